//! Sweeps: settings varied over lists of values, the same runs played at every point of their
//! grid, each point's figures summarised.
//!
//! What a sweep's user writes and reads is defined here once, for `grapevine sweep` and the
//! page's compare panel alike, so both give the same table for the same seed: the grammar of
//! a list of values ([`values`]), the grid's order ([`grid`]), the round engine's figures by
//! name ([`ENGINE_FIGURES`], [`RunFigures::values`]) and a point's summary as CSV
//! ([`CSV_SUMMARY_HEADER`], [`csv_summary_row`]). Which settings a driver varies, and how a
//! value is checked, is the driver's: each checks a value as it checks that setting anywhere.
//!
//! Common random numbers: run `i` of every point plays [`run_seed`](crate::experiment::run_seed)
//! `(seed, i)`, so two points differ by their settings and not by their seeds' luck.

use crate::experiment::{RunFigures, Summary};
use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

/// Points in a grid at most: a sweep is a table a person reads, or a plot.
pub const MAX_POINTS: usize = 100_000;

/// The values a list names: `V1,V2,...` as given, `A..B` every whole number from A to B, or
/// `A..B*F` A, then each times F (rounded, and at least one more) up to B: log steps. Refuses
/// an empty value, a value given twice, and more than [`MAX_POINTS`] values, in words.
pub fn values(spec: &str) -> Result<Vec<String>, String> {
    // A range only rises; a list is checked for repeats (in a set: a link may hold a long one).
    let values = match spec.split_once("..") {
        Some((from, to)) => return range(from, to),
        None => spec
            .split(',')
            .map(|v| v.trim().to_string())
            .collect::<Vec<_>>(),
    };
    if values.len() > MAX_POINTS {
        return Err(format!("more than {MAX_POINTS} values"));
    }
    let mut seen = BTreeSet::new();
    for v in &values {
        if v.is_empty() {
            return Err("an empty value".into());
        }
        if !seen.insert(v.as_str()) {
            return Err(format!("{v} is given twice"));
        }
    }
    Ok(values)
}

/// `A..B` or `A..B*F`.
fn range(from: &str, to: &str) -> Result<Vec<String>, String> {
    let (to, factor) = match to.split_once('*') {
        Some((to, f)) => {
            let f: f64 = f
                .trim()
                .parse()
                .map_err(|_| format!("the factor {f:?} is not a number"))?;
            if !(f > 1.0 && f.is_finite()) {
                return Err("the factor must be more than 1".into());
            }
            (to, Some(f))
        }
        None => (to, None),
    };
    let int = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| format!("a range takes whole numbers, not {s:?}"))
    };
    let (a, b) = (int(from)?, int(to)?);
    if a > b {
        return Err(format!("{a} is more than {b}"));
    }
    let mut values = vec![a];
    while let Some(&last) = values.last() {
        // The largest whole number ends a range (`A..u64::MAX` has nowhere further to go).
        let Some(step) = last.checked_add(1) else {
            break;
        };
        let next = match factor {
            None => step,
            Some(f) => (libm::round(last as f64 * f) as u64).max(step),
        };
        if next > b {
            break;
        }
        if values.len() >= MAX_POINTS {
            return Err(format!("more than {MAX_POINTS} values"));
        }
        values.push(next);
    }
    Ok(values.iter().map(u64::to_string).collect())
}

/// Every point of the grid of lists of these lengths, as each list's index, the first list
/// outermost; `None` beyond [`MAX_POINTS`] points.
pub fn grid(lengths: &[usize]) -> Option<Vec<Vec<usize>>> {
    lengths
        .iter()
        .try_fold(1usize, |n, &len| n.checked_mul(len))
        .filter(|&n| n <= MAX_POINTS)?;
    let mut points: Vec<Vec<usize>> = vec![Vec::new()];
    for &len in lengths {
        points = points
            .into_iter()
            .flat_map(|p| {
                (0..len).map(move |i| {
                    let mut p = p.clone();
                    p.push(i);
                    p
                })
            })
            .collect();
    }
    Some(points)
}

/// A figure a run yields, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Figure {
    /// Its name in every output (`rounds_to_full`).
    pub name: &'static str,
    /// What it is, in words, with its unit: an axis' label.
    pub label: &'static str,
    /// Whether a run may lack it (its summary then counts the runs that have it).
    pub optional: bool,
    /// Whether it is summarised over the runs (else only listed per run).
    pub summarised: bool,
}

/// The round engine's figures, in [`RunFigures::values`]' order: those `grapevine sim`
/// summarises, and a run's rounds and redundant share, listed per run.
pub const ENGINE_FIGURES: [Figure; 7] = [
    figure("rounds", "rounds played", false, false),
    figure(
        "rounds_to_full",
        "rounds until every live node knew (runs that got there)",
        true,
        true,
    ),
    figure(
        "residue",
        "residue: share of live nodes never informed",
        false,
        true,
    ),
    figure("messages_per_node", "messages sent per node", false, true),
    figure("t_ave", "mean round of informing (t_ave)", false, true),
    figure("t_last", "last round of informing (t_last)", false, true),
    figure(
        "redundant_share",
        "share of messages to nodes that knew",
        false,
        false,
    ),
];

const fn figure(
    name: &'static str,
    label: &'static str,
    optional: bool,
    summarised: bool,
) -> Figure {
    Figure {
        name,
        label,
        optional,
        summarised,
    }
}

impl RunFigures {
    /// The figures in [`ENGINE_FIGURES`]' order (`None`: the run never got there).
    pub fn values(&self) -> [Option<f64>; 7] {
        [
            Some(f64::from(self.rounds)),
            self.rounds_to_full.map(f64::from),
            Some(self.residue),
            Some(self.messages_per_node),
            Some(self.t_ave),
            Some(f64::from(self.t_last)),
            Some(self.redundant_share),
        ]
    }
}

impl Summary {
    /// The distribution of the values a run has (`Some`), with how many there are.
    pub fn of_present(values: impl IntoIterator<Item = Option<f64>>) -> Option<(Summary, u32)> {
        let present: Vec<f64> = values.into_iter().flatten().collect();
        Summary::of(&present).map(|s| (s, present.len() as u32))
    }
}

/// The summary CSV's columns after the varied settings' names.
pub const CSV_SUMMARY_HEADER: &str = "figure,runs,mean,sd,min,p50,p95,max,ci95_lo,ci95_hi";

/// A point's values as CSV fields (a value quoted when it has a comma or a quote).
pub fn csv_point<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    values
        .into_iter()
        .map(|v| {
            if v.contains([',', '"']) {
                format!("\"{}\"", v.replace('"', "\"\""))
            } else {
                v.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// One line of the summary CSV (without its newline): the point's fields (`csv_point`), a
/// figure's name, how many runs have it, and their distribution with the 95 % interval of
/// the mean; empty fields when no run has it.
pub fn csv_summary_row(at: &str, figure: &str, summary: Option<(Summary, u32)>) -> String {
    match summary {
        Some((x, n)) => {
            let [lo, hi] = x.ci95(n);
            format!(
                "{at},{figure},{n},{},{},{},{},{},{},{lo},{hi}",
                x.mean, x.sd, x.min, x.p50, x.p95, x.max
            )
        }
        None => format!("{at},{figure},0,,,,,,,,"),
    }
}

/// Where a varied setting's values sit on an x-axis: at their values when all are numbers
/// (`true`), else at their index (categories such as topologies).
pub fn positions(values: &[String]) -> (Vec<f64>, bool) {
    let numbers: Option<Vec<f64>> = values.iter().map(|v| v.parse::<f64>().ok()).collect();
    match numbers {
        Some(xs) => (xs, true),
        None => ((0..values.len()).map(|i| i as f64).collect(), false),
    }
}

/// A number as an axis' tick or a tooltip shows it: whole numbers as such, others with up to
/// four decimals, trailing zeros dropped (`2`, `0.25`, `12.3457`).
pub fn short_number(x: f64) -> String {
    if (x - libm::round(x)).abs() < 1e-9 && x.abs() < 1e15 {
        format!("{}", libm::round(x) as i64)
    } else {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_ranges_and_log_steps() {
        assert_eq!(values("push, pull").unwrap(), ["push", "pull"]);
        assert_eq!(values("1..4").unwrap(), ["1", "2", "3", "4"]);
        assert_eq!(
            values("100..100000*10").unwrap(),
            ["100", "1000", "10000", "100000"]
        );
        // Each step at least one more, however small the factor.
        assert_eq!(values("1..4*1.1").unwrap(), ["1", "2", "3", "4"]);
        for (bad, why) in [
            ("1,,2", "an empty value"),
            ("1,2,1", "1 is given twice"),
            ("4..1", "4 is more than 1"),
            ("1..x", "a range takes whole numbers, not \"x\""),
            ("1..9*1", "the factor must be more than 1"),
        ] {
            assert_eq!(values(bad).unwrap_err(), why, "{bad}");
        }
        assert!(values("1..1000000").unwrap_err().contains("more than"));
        // The largest whole number: the range ends there, without overflow.
        let top = u64::MAX.to_string();
        assert_eq!(values(&format!("{top}..{top}")).unwrap(), [top.as_str()]);
        assert_eq!(
            values(&format!("{}..{top}*2", u64::MAX - 1)).unwrap().len(),
            2
        );
        // A long list is checked quickly.
        let long: Vec<String> = (0..MAX_POINTS).map(|i| i.to_string()).collect();
        assert_eq!(values(&long.join(",")).unwrap().len(), MAX_POINTS);
    }

    #[test]
    fn short_numbers_drop_what_a_tick_does_not_need() {
        assert_eq!(
            [2.0, 0.25, 12.345_678, -3.0, 1e-12, 0.1 + 0.2].map(short_number),
            ["2", "0.25", "12.3457", "-3", "0", "0.3"]
        );
    }

    #[test]
    fn the_grid_puts_the_first_list_outermost() {
        assert_eq!(
            grid(&[2, 3]).unwrap(),
            [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]
        );
        assert_eq!(grid(&[]).unwrap(), [Vec::<usize>::new()]);
        assert_eq!(grid(&[1000, 1000]), None);
    }

    #[test]
    fn a_summary_row_has_every_column_of_the_header() {
        let s = Summary::of_present([Some(1.0), None, Some(3.0)]);
        assert_eq!(s.map(|(_, n)| n), Some(2));
        assert_eq!(
            csv_point(["2", "a,b", "say \"hi\""]),
            "2,\"a,b\",\"say \"\"hi\"\"\""
        );
        let row = csv_summary_row(&csv_point(["2", "pull"]), "t_ave", s);
        assert!(row.starts_with("2,pull,t_ave,2,2,"), "{row}");
        let columns = CSV_SUMMARY_HEADER.split(',').count();
        assert_eq!(row.split(',').count(), 2 + columns, "{row}");
        assert_eq!(csv_summary_row("7", "residue", None), "7,residue,0,,,,,,,,");
    }
}
