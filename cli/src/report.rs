//! How `grapevine sim` and `grapevine sweep` print: a summary's rows, for the round engine and
//! the lab alike; the progress bar; what a failed write says.

use crate::usage::Usage;
use grapevine_core::experiment::Summary;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};

/// A progress bar of `len` runs on standard error, drawn only when it is a terminal.
pub fn progress_bar(len: u64) -> ProgressBar {
    if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {elapsed} (eta {eta})")
                .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    }
}

/// The result of writing the output: a closed pipe (`| head`) is not an error worth a
/// message; any other failure is one line.
pub fn written(result: std::io::Result<()>) -> Result<(), Usage> {
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Usage(format!("error: writing the results: {e}")))
        }
        _ => Ok(()),
    }
}

/// How the summary is printed.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object.
    Json,
    /// One row per figure.
    Csv,
    /// Aligned columns for people.
    Table,
}

/// One figure of a summary as printed: its name, how many runs it is over, its distribution.
pub type Row<'a> = (&'a str, u32, Option<Summary>);

/// The CSV summary : a header, then one line per figure.
pub fn write_csv_rows(out: &mut impl Write, rows: &[Row]) -> std::io::Result<()> {
    writeln!(out, "figure,runs,mean,sd,min,p50,p95,max")?;
    for &(name, n, summary) in rows {
        match summary {
            Some(x) => writeln!(
                out,
                "{name},{n},{},{},{},{},{},{}",
                x.mean, x.sd, x.min, x.p50, x.p95, x.max
            )?,
            None => writeln!(out, "{name},0,,,,,,")?,
        }
    }
    Ok(())
}

/// The table's columns , names padded to `width`.
pub fn write_table_rows(out: &mut impl Write, width: usize, rows: &[Row]) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<width$} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "figure", "runs", "mean", "sd", "min", "p50", "p95", "max"
    )?;
    for &(name, n, summary) in rows {
        match summary {
            Some(x) => writeln!(
                out,
                "{name:<width$} {n:>6} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>10.4}",
                x.mean, x.sd, x.min, x.p50, x.p95, x.max
            )?,
            None => writeln!(out, "{name:<width$} {n:>6} {:>10}", "-")?,
        }
    }
    Ok(())
}
