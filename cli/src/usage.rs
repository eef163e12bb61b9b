//! How `grapevine` refuses input: [`Usage`], the one-line error every subcommand returns
//! for a bad flag (printed by `main`, exit code 2), the flag a [`SettingsError`] names, and
//! the memory check that refuses a run before it allocates.
//!
//! A leaf (it depends on nothing else in this crate): every subcommand returns its errors
//! through it.

use grapevine_core::{Settings, SettingsError};

/// A bad flag: printed as one line, exit code 2.
#[derive(Debug)]
pub struct Usage(pub String);

impl Usage {
    pub fn settings(e: SettingsError) -> Usage {
        let flag = match e {
            SettingsError::Nodes(_) => "--nodes",
            SettingsError::Fanout(_) => "--fanout",
            SettingsError::Loss(_) => "--loss",
            SettingsError::K(_) => "--k",
            SettingsError::Crashed(_) => "--crashed",
            SettingsError::Topology(_) => "--topology",
            SettingsError::Source(_)
            | SettingsError::SourceCrashed(_)
            | SettingsError::NotNeighbour(..) => "--seed",
        };
        let why = match e {
            SettingsError::Topology(why) => why.to_string(),
            _ => e.to_string(),
        };
        Usage(format!("error: invalid {flag}: {why}"))
    }
}

/// Refuses settings that will not fit in memory `parallel` times over, before allocating.
pub fn check_memory(settings: &Settings, parallel: usize) -> Result<(), Usage> {
    let need = settings.peak_memory_bytes().saturating_mul(parallel as u64);
    let Some(available) = available_memory() else {
        return Ok(());
    };
    if need > available {
        let gb = |b: u64| b as f64 / 1e9;
        return Err(Usage(format!(
            "error: --nodes {} on a {} graph needs about {:.1} GB ({} run(s) at once); \
             {:.1} GB is available: use fewer nodes or --threads 1",
            settings.nodes,
            settings.topology.name(),
            gb(need),
            parallel,
            gb(available)
        )));
    }
    Ok(())
}

/// `MemAvailable` from /proc/meminfo (Linux); `None` elsewhere.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
