//! Scenarios as data: a list of (time, operation) that the page's buttons, the URL, the tests
//! and the command-line tool all share, with a small text form:
//!
//! ```text
//! # split brain and heal
//! at 5s split 2
//! at 35s heal
//! end 90s
//! ```
//!
//! One step per line (or separated by `;`); `#` starts a comment. Times are `N ms` or `N s`
//! (`500ms`, `5s`, `1.5s`). Operations, with node indices from 0:
//! `crash I`, `restart I` (a new incarnation), `join` (a new node, through a live one),
//! `leave I` (gracefully), `split K` (K groups of consecutive nodes), `heal`,
//! `loss P`, `duplicate P`, `latency MS [JITTER [SPREAD]]` (every link's delay, a random
//! extra per message, and a fixed extra per pair of nodes), `slow I MS`.
//! `end T` says how long the scenario runs.
//!
//! Any other `VERB I WORDS...` is a [`Command`] for one protocol at node I: the scenario does
//! not know protocols. The protocol that takes the verb reads and checks it (key-value's
//! `set I KEY VALUE`, push-sum's `value I X`, rumors' `rumor I TEXT`); a run of another
//! protocol ignores it, and a verb no protocol takes is refused when the run starts
//! ([`super::run::LabProtocol::check`]).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The scenario of a run given no scenario: nothing happens for 60 s.
pub const QUIET_SCENARIO: &str = "end 60s";

/// One operation on the simulated network or its nodes.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Node `i` crashes.
    Crash(u32),
    /// Node `i` restarts with a new incarnation and no state, and joins again.
    Restart(u32),
    /// A new node joins through a live one.
    Join,
    /// Node `i` leaves gracefully.
    Leave(u32),
    /// The nodes split into `k` groups of consecutive indices; no message crosses groups.
    Split(u16),
    /// Every partition ends.
    Heal,
    /// Links lose each message with this probability.
    Loss(f64),
    /// Links deliver each message twice with this probability.
    Duplicate(f64),
    /// Links' latency, jitter and spread (see [`super::net::LinkConfig`]), ms.
    Latency(u32, u32, u32),
    /// Node `i`'s messages take this many ms longer, both ways (0: normal again).
    Slow(u32, u32),
    /// An operation of one protocol at one node.
    Command(Command),
}

/// An operation of one protocol at one node, as written (`set 0 color red`: the verb `set`,
/// node 0, the words `color red`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// What to do: the protocol that takes this verb reads the command.
    pub verb: String,
    /// At which node.
    pub node: u32,
    /// The rest of the line, words separated by single spaces (may be empty).
    pub words: String,
}

impl Command {
    /// `verb` at `node` with `words`.
    pub fn new(verb: &str, node: u32, words: &str) -> Command {
        Command {
            verb: verb.into(),
            node,
            words: words.split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }
}

/// A timed list of operations.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Steps in time order (stable for equal times: the order written).
    pub steps: Vec<(u64, Op)>,
    /// How long the scenario runs, ms.
    pub end_ms: u64,
}

/// The presets, by name: (name, what it shows, text).
pub const PRESETS: &[(&str, &str, &str)] = &[
    (
        "crash-one",
        "one node crashes; watch the others suspect it, then declare it dead",
        "at 10s crash 1\nend 60s",
    ),
    (
        "split-brain",
        "the group splits in two halves for 30 s, then heals",
        "at 10s split 2\nat 40s heal\nend 90s",
    ),
    (
        "rolling-restart",
        "three nodes restart one after another, as in a deploy",
        "at 10s crash 0\nat 12s restart 0\nat 20s crash 1\nat 22s restart 1\nat 30s crash 2\nat 32s restart 2\nend 60s",
    ),
    (
        "lossy-link",
        "every link loses 20 % of messages",
        "at 0s loss 0.2\nend 60s",
    ),
    (
        "slow-node",
        "one node's messages take 3 s each way (a CPU-starved process): false suspicions, and what Lifeguard does about them",
        "at 5s slow 0 3000\nend 120s",
    ),
    (
        "concurrent-writes",
        "two nodes write the same key at the same moment, then a partition heals",
        "at 5s split 2\nat 10s set 0 color red\nat 10s set 9 color blue\nat 20s heal\nend 60s",
    ),
    (
        "skewed-clock",
        "node 3's clock runs 15 s behind: its later write loses under last-writer-wins, and vector clocks keep it",
        "at 0s skew 3 -15000\nat 10s set 0 color red\nat 20s set 3 color blue\nend 50s",
    ),
];

/// A preset's text by name.
pub fn preset(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|p| p.0 == name).map(|p| p.2)
}

/// Why a scenario text was refused: the step (1-based) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// Which step, counting from 1.
    pub step: usize,
    /// What is wrong.
    pub message: String,
}

impl core::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "scenario step {}: {}", self.step, self.message)
    }
}

/// The longest scenario, ms (a day).
pub const MAX_END_MS: u64 = 86_400_000;
/// The most steps in a scenario.
pub const MAX_STEPS: usize = 10_000;

fn parse_time(word: &str) -> Result<u64, String> {
    let (number, scale) = if let Some(n) = word.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = word.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return Err(format!("time `{word}` needs a unit: ms or s"));
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("time `{word}` is not a number"))?;
    let ms = value * scale;
    if !(0.0..=MAX_END_MS as f64).contains(&ms) {
        return Err(format!("time `{word}` is outside 0 to 24 hours"));
    }
    Ok(ms as u64)
}

fn parse_index(word: Option<&str>, what: &str) -> Result<u32, String> {
    let word = word.ok_or_else(|| format!("{what} needs a node index"))?;
    word.parse()
        .map_err(|_| format!("node index `{word}` is not a whole number"))
}

fn parse_probability(word: Option<&str>, what: &str) -> Result<f64, String> {
    let word = word.ok_or_else(|| format!("{what} needs a probability"))?;
    let p: f64 = word
        .parse()
        .map_err(|_| format!("{what} `{word}` is not a number"))?;
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("{what} {word} is outside [0, 1]"));
    }
    Ok(p)
}

fn parse_ms(word: Option<&str>, what: &str) -> Result<u32, String> {
    let word = word.ok_or_else(|| format!("{what} needs milliseconds"))?;
    let word = word.strip_suffix("ms").unwrap_or(word);
    let ms: u32 = word
        .parse()
        .map_err(|_| format!("{what} `{word}` is not a whole number of ms"))?;
    if ms > 60_000 {
        return Err(format!("{what} {ms} ms is more than 60000"));
    }
    Ok(ms)
}

/// Whether `word` can name a protocol's operation: lowercase letters and `-`.
fn is_verb(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
}

fn parse_op(words: &[&str]) -> Result<Op, String> {
    let mut rest = words[1..].iter().copied();
    let op = match words[0] {
        "crash" => Op::Crash(parse_index(rest.next(), "crash")?),
        "restart" => Op::Restart(parse_index(rest.next(), "restart")?),
        "join" => Op::Join,
        "leave" => Op::Leave(parse_index(rest.next(), "leave")?),
        "split" => {
            let k = rest.next().ok_or("split needs a number of groups")?;
            match k.parse::<u16>() {
                Ok(k) if (2..=64).contains(&k) => Op::Split(k),
                _ => return Err(format!("split {k}: groups must be 2 to 64")),
            }
        }
        "heal" => Op::Heal,
        "loss" => Op::Loss(parse_probability(rest.next(), "loss")?),
        "duplicate" => Op::Duplicate(parse_probability(rest.next(), "duplicate")?),
        "latency" => {
            let latency = parse_ms(rest.next(), "latency")?;
            let jitter = match rest.next() {
                Some(j) => parse_ms(Some(j), "jitter")?,
                None => 0,
            };
            let spread = match rest.next() {
                Some(s) => parse_ms(Some(s), "spread")?,
                None => 0,
            };
            Op::Latency(latency, jitter, spread)
        }
        "slow" => {
            let i = parse_index(rest.next(), "slow")?;
            Op::Slow(i, parse_ms(rest.next(), "slow")?)
        }
        verb if is_verb(verb) => {
            let node = parse_index(rest.next(), verb)?;
            let words = rest.by_ref().collect::<Vec<&str>>().join(" ");
            return Ok(Op::Command(Command {
                verb: verb.into(),
                node,
                words,
            }));
        }
        other => return Err(format!("unknown operation `{other}`")),
    };
    if let Some(extra) = rest.next() {
        return Err(format!("unexpected `{extra}` after {}", words[0]));
    }
    Ok(op)
}

impl core::fmt::Display for Op {
    /// The operation in the text form [`Scenario::parse`] reads (without `at TIME`).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Op::Crash(i) => write!(f, "crash {i}"),
            Op::Restart(i) => write!(f, "restart {i}"),
            Op::Join => write!(f, "join"),
            Op::Leave(i) => write!(f, "leave {i}"),
            Op::Split(k) => write!(f, "split {k}"),
            Op::Heal => write!(f, "heal"),
            Op::Loss(p) => write!(f, "loss {p}"),
            Op::Duplicate(p) => write!(f, "duplicate {p}"),
            Op::Latency(ms, jitter, spread) => write!(f, "latency {ms} {jitter} {spread}"),
            Op::Slow(i, ms) => write!(f, "slow {i} {ms}"),
            Op::Command(c) if c.words.is_empty() => write!(f, "{} {}", c.verb, c.node),
            Op::Command(c) => write!(f, "{} {} {}", c.verb, c.node, c.words),
        }
    }
}

/// A time in the text form: whole seconds as `Ns`, anything else as `Nms`.
fn format_time(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

impl Scenario {
    /// Parses the text form (see the module's documentation).
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let mut steps: Vec<(u64, Op)> = Vec::new();
        let mut end_ms = None;
        let lines = text
            .split(['\n', ';'])
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty());
        for (n, line) in lines.enumerate() {
            let error = |message: String| ScenarioError {
                step: n + 1,
                message,
            };
            if n >= MAX_STEPS {
                return Err(error(format!("more than {MAX_STEPS} steps")));
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            match words[0] {
                "end" => {
                    let t = words
                        .get(1)
                        .ok_or_else(|| error("end needs a time".into()))?;
                    if words.len() > 2 {
                        return Err(error(format!("unexpected `{}` after end", words[2])));
                    }
                    end_ms = Some(parse_time(t).map_err(error)?);
                }
                "at" => {
                    let t = words
                        .get(1)
                        .ok_or_else(|| error("at needs a time".into()))?;
                    let at = parse_time(t).map_err(error)?;
                    if words.len() < 3 {
                        return Err(error(format!("at {t} needs an operation")));
                    }
                    steps.push((at, parse_op(&words[2..]).map_err(error)?));
                }
                other => {
                    return Err(error(format!(
                        "a step starts with `at TIME` or `end TIME`, not `{other}`"
                    )))
                }
            }
        }
        steps.sort_by_key(|s| s.0);
        let last = steps.last().map_or(0, |s| s.0);
        let end_ms = end_ms.unwrap_or(last + 30_000);
        if end_ms < last {
            return Err(ScenarioError {
                step: steps.len(),
                message: format!("ends at {end_ms} ms, before its last step at {last} ms"),
            });
        }
        Ok(Scenario { steps, end_ms })
    }

    /// The text form, one step per line: [`Scenario::parse`] reads it back to the same
    /// scenario (the page keeps scenarios in the URL this way).
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for (at, op) in &self.steps {
            text.push_str(&format!("at {} {op}\n", format_time(*at)));
        }
        text.push_str(&format!("end {}", format_time(self.end_ms)));
        text
    }

    /// A preset by name, or else the text itself.
    pub fn from_name_or_text(name_or_text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(preset(name_or_text).unwrap_or(name_or_text))
    }

    /// Checks that every node index is below `nodes` plus the nodes joined before the step.
    pub fn check_nodes(&self, nodes: u32) -> Result<(), ScenarioError> {
        let mut count = nodes;
        for (n, (_, op)) in self.steps.iter().enumerate() {
            let index = match op {
                Op::Crash(i) | Op::Restart(i) | Op::Leave(i) | Op::Slow(i, _) => Some(*i),
                Op::Command(c) => Some(c.node),
                Op::Join => {
                    count += 1;
                    None
                }
                _ => None,
            };
            if let Some(i) = index.filter(|&i| i >= count) {
                return Err(ScenarioError {
                    step: n + 1,
                    message: format!("node {i} does not exist ({count} nodes)"),
                });
            }
        }
        Ok(())
    }
}
