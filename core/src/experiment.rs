//! Monte Carlo experiments: many seeded runs of one scenario, the figures each run yields and
//! their summary.
//!
//! The command-line tool (`grapevine sim`) and the page's batch panel both call this, so the
//! same master seed gives the same numbers in both, whatever the number of threads: run `i`'s
//! seed depends only on the master seed and `i` ([`run_seed`]), and summaries are taken over
//! the runs in index order.

use crate::engine::{RoundEngine, Settings};
use crate::metrics::RoundStats;
use crate::rng::{GossipRng, Stream};
use crate::rules::SettingsError;
use alloc::vec::Vec;

/// Rounds after which a run that is still spreading is cut short, unless told otherwise.
/// Far beyond any complete-graph run (a million nodes take about 35 rounds of push); a ring
/// of `N` nodes needs `N / 2` rounds, so large rings need a larger cap.
pub const DEFAULT_MAX_ROUNDS: u32 = 10_000;

/// The seed of run `run` of a batch with master seed `master`. Run 0 is the master seed
/// itself, so the first run of a batch is exactly the run the page plays with that seed.
pub fn run_seed(master: u64, run: u32) -> u64 {
    if run == 0 {
        return master;
    }
    let mut rng = GossipRng::derive(master, Stream::Runs, u64::from(run));
    (u64::from(rng.next_u32()) << 32) | u64::from(rng.next_u32())
}

/// What one run yields. Rounds are counted from 1 (round 0 is the start, the source alone).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunFigures {
    /// The run's index in its batch.
    pub run: u32,
    /// The run's seed ([`run_seed`]).
    pub seed: u64,
    /// Rounds played: until the run finished (every live node informed, or nobody spreading
    /// any more) or the round cap.
    pub rounds: u32,
    /// The round at whose end every live node knew the rumor; `None` if that never happened.
    pub rounds_to_full: Option<u32>,
    /// Fraction of live nodes that never learnt the rumor (Demers et al.'s residue `s`).
    pub residue: f64,
    /// Messages sent (lost ones included) divided by the number of nodes (Demers' traffic
    /// `m` counts the same for push; see docs/FIDELITY.md for pull).
    pub messages_per_node: f64,
    /// Mean round in which a node other than the source was informed (Demers' `t_ave`);
    /// 0 if nobody else was.
    pub t_ave: f64,
    /// The last round in which a node was informed (Demers' `t_last`); 0 if nobody was.
    pub t_last: u32,
    /// Share of the messages that reached a node which already knew the rumor (0 if none
    /// was sent): the price of a larger fanout.
    pub redundant_share: f64,
}

impl RunFigures {
    /// The figures of a run whose rounds are `history` (round 0 first), as kept by
    /// [`RoundEngine::history`].
    pub fn of(run: u32, seed: u64, nodes: u32, history: &[RoundStats]) -> RunFigures {
        let last = history.last().copied().unwrap_or_default();
        let rounds_to_full = history
            .iter()
            .find(|r| r.counts.susceptible == 0)
            .map(|r| r.round);
        let (mut informed, mut weighted, mut t_last) = (0u64, 0f64, 0u32);
        for r in history {
            if r.traffic.informed > 0 {
                informed += r.traffic.informed;
                weighted += f64::from(r.round) * r.traffic.informed as f64;
                t_last = r.round;
            }
        }
        let live = last.counts.live();
        RunFigures {
            run,
            seed,
            rounds: last.round,
            rounds_to_full,
            residue: if live == 0 {
                0.0
            } else {
                f64::from(last.counts.susceptible) / f64::from(live)
            },
            messages_per_node: last.total.sent as f64 / f64::from(nodes),
            t_ave: if informed == 0 {
                0.0
            } else {
                weighted / informed as f64
            },
            t_last,
            redundant_share: if last.total.sent == 0 {
                0.0
            } else {
                last.total.redundant as f64 / last.total.sent as f64
            },
        }
    }
}

/// One run of a batch: its figures and its per-round records (round 0 first).
#[derive(Clone, Debug)]
pub struct Run {
    /// The figures.
    pub figures: RunFigures,
    /// Every round's record, for time series.
    pub history: Vec<RoundStats>,
}

/// Plays run `run` of a batch of `settings` (whose seed is the master seed) to its end or
/// `max_rounds`.
pub fn play_run(settings: Settings, run: u32, max_rounds: u32) -> Result<Run, SettingsError> {
    let seed = run_seed(settings.seed, run);
    let mut engine = RoundEngine::new(Settings { seed, ..settings })?;
    while engine.round() < max_rounds && !engine.is_finished() {
        engine.step();
    }
    let history = engine.history().to_vec();
    Ok(Run {
        figures: RunFigures::of(run, seed, settings.nodes, &history),
        history,
    })
}

/// The distribution of one figure over a batch's runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (divides by `n - 1`; 0 for a single value).
    pub sd: f64,
    /// Smallest value.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Largest value.
    pub max: f64,
}

impl Summary {
    /// Summarises `values`; `None` if there are none. Percentiles interpolate linearly
    /// between order statistics (Hyndman and Fan's type 7, the default of R and NumPy).
    pub fn of(values: &[f64]) -> Option<Summary> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let sd = if values.len() < 2 {
            0.0
        } else {
            libm::sqrt(values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0))
        };
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let quantile = |q: f64| {
            let h = (n - 1.0) * q;
            let lo = libm::floor(h) as usize;
            let hi = (lo + 1).min(sorted.len() - 1);
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        };
        Some(Summary {
            mean,
            sd,
            min: sorted[0],
            p50: quantile(0.5),
            p95: quantile(0.95),
            max: sorted[sorted.len() - 1],
        })
    }

    /// A 95 % confidence interval for the mean of the `runs` values summarised: mean ± t ·
    /// sd / √runs, with Student's t for `runs - 1` degrees of freedom (a sweep's points have a
    /// few runs each, where the normal's 1.96 would be too narrow). A single run gives the
    /// mean alone.
    pub fn ci95(&self, runs: u32) -> [f64; 2] {
        if runs < 2 {
            return [self.mean, self.mean];
        }
        let half = student_t_975(runs - 1) * self.sd / libm::sqrt(f64::from(runs));
        [self.mean - half, self.mean + half]
    }
}

/// Student's t distribution's 97.5 % quantile for `df` degrees of freedom (at least 1): the
/// table's values to 30, then the Cornish-Fisher expansion around the normal's 1.959964
/// (within 10^-4 of the exact quantile from 30 on).
fn student_t_975(df: u32) -> f64 {
    const TABLE: [f64; 30] = [
        12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281, 2.2010,
        2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739,
        2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df as usize - 1],
        _ => {
            let (z, n) = (1.959_964, f64::from(df));
            let (z3, z5) = (z * z * z, z * z * z * z * z);
            z + (z3 + z) / (4.0 * n) + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * n * n)
        }
    }
}

/// A batch's figures, each summarised over its runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchSummary {
    /// Runs played.
    pub runs: u32,
    /// Runs in which every live node learnt the rumor.
    pub completed: u32,
    /// Rounds until every live node knew, over the completed runs; `None` if none completed.
    pub rounds_to_full: Option<Summary>,
    /// Fraction of live nodes never informed.
    pub residue: Summary,
    /// Messages sent divided by the number of nodes.
    pub messages_per_node: Summary,
    /// Mean round of informing.
    pub t_ave: Summary,
    /// Last round of informing.
    pub t_last: Summary,
}

impl BatchSummary {
    /// Summarises runs given in index order; `None` for an empty batch.
    pub fn of(runs: &[RunFigures]) -> Option<BatchSummary> {
        let column = |f: fn(&RunFigures) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
        let full: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.rounds_to_full.map(f64::from))
            .collect();
        Some(BatchSummary {
            runs: runs.len() as u32,
            completed: full.len() as u32,
            rounds_to_full: Summary::of(&full),
            residue: Summary::of(&column(|r| r.residue))?,
            messages_per_node: Summary::of(&column(|r| r.messages_per_node))?,
            t_ave: Summary::of(&column(|r| r.t_ave))?,
            t_last: Summary::of(&column(|r| f64::from(r.t_last)))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_matches_hand_computed_figures() {
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.min, s.max, s.mean), (1.0, 4.0, 2.5));
        assert_eq!(s.p50, 2.5);
        // Type 7: h = 3 * 0.95 = 2.85, between 3 and 4.
        assert!((s.p95 - 3.85).abs() < 1e-12, "{}", s.p95);
        assert!((s.sd - (5.0f64 / 3.0).sqrt()).abs() < 1e-12, "{}", s.sd);
        let one = Summary::of(&[7.0]).unwrap();
        assert_eq!((one.sd, one.p50, one.p95), (0.0, 7.0, 7.0));
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn a_confidence_interval_uses_students_t() {
        // Four values, sd √(5/3): t(3) = 3.1824.
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        let [lo, hi] = s.ci95(4);
        let half = 3.1824 * (5.0f64 / 3.0).sqrt() / 2.0;
        assert!((lo - (2.5 - half)).abs() < 1e-9 && (hi - (2.5 + half)).abs() < 1e-9);
        assert_eq!(Summary::of(&[7.0]).unwrap().ci95(1), [7.0, 7.0]);
        // The expansion meets the table at 30 and the normal far out.
        assert!(
            (student_t_975(31) - 2.0395).abs() < 2e-4,
            "{}",
            student_t_975(31)
        );
        assert!(
            (student_t_975(120) - 1.9799).abs() < 2e-4,
            "{}",
            student_t_975(120)
        );
        assert!((student_t_975(1_000_000) - 1.96).abs() < 1e-3);
    }

    #[test]
    fn first_run_of_a_batch_is_the_master_seed_and_others_differ() {
        assert_eq!(run_seed(42, 0), 42);
        let seeds: Vec<u64> = (0..100).map(|i| run_seed(42, i)).collect();
        let mut unique = seeds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), seeds.len());
        assert_ne!(run_seed(43, 1), run_seed(42, 1));
    }
}
