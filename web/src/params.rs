//! Every setting a user can make, to and from the URL's query string.
//!
//! Parsing never fails: a bad parameter falls back to its default and adds a notice that the
//! page shows, so a mistyped link still opens a working playground.
//!
//! Everything here reads names only (lab protocols by their [`ProtocolInfo`]), so the round
//! view, which parses every URL to route it, links none of the lab's or live mode's code;
//! what only the lab can check (does the scenario fit its protocol) is
//! [`crate::lab::scenario_notice`], which the lab's part calls.

use grapevine_core::engine::MAX_NODES;
use grapevine_core::lab::push_sum::Aggregate;
use grapevine_core::lab::run::MAX_LAB_NODES;
use grapevine_core::lab::scenario::PRESETS;
use grapevine_core::lab::{LabOption, ProtocolInfo};
use grapevine_core::rules::MAX_FANOUT;
use grapevine_core::signal::valid_room;
use grapevine_core::{Protocol, Settings, StopRule, Topology};

/// The most nodes the page offers (the dense view draws one pixel per node).
pub const PAGE_MAX_NODES: u32 = 1_000_000;
const _: () = assert!(PAGE_MAX_NODES <= MAX_NODES);

/// Rounds per second when playing; 0 means one round per frame.
pub const SPEEDS: [u32; 6] = [1, 2, 5, 10, 30, 0];

/// Everything the URL holds.
#[derive(Clone, Debug, PartialEq)]
pub struct PageSettings {
    /// The run's settings (the lab's protocols use its nodes, seed and loss).
    pub run: Settings,
    /// Rounds (the lab: protocol periods) per second while playing (one of [`SPEEDS`]).
    pub speed: u32,
    /// The protocol lab's settings.
    pub lab: LabPage,
    /// Live mode's room: this tab is a real node, gossiping with other tabs over WebRTC.
    pub live: Option<String>,
    /// Live mode's ICE servers (STUN / TURN URLs), overriding those `grapevine serve` gives.
    pub ice: Vec<String>,
    /// Live mode's conductor token (the conductor link `grapevine serve` prints): the server
    /// checks it and, if right, vouches for this tab as the room's conductor.
    pub conductor: Option<String>,
    /// Live mode's join code (the student link of a server that asks for one): kept by the
    /// tab, never written back.
    pub code: Option<String>,
    /// A lesson and its step, both 1-based (`?lesson=N&step=M`); lesson 0 is the list of
    /// lessons (`?lesson=0`, or `?lesson` alone).
    pub lesson: Option<(u32, u32)>,
    /// Presenter mode (`?present=1`): large type, projector-safe colours, play / step / back
    /// only, clicker keys.
    pub present: bool,
    /// Embed mode (`?embed=1`): the picture, play and the essential numbers only.
    pub embed: bool,
    /// The compare panel's comparison as the URL gives it
    /// (`?compare=fanout:1..4&series=protocol:push,pull`): read by the panel
    /// ([`Compare::read`]), so that the round view, which only routes on it, links none of it.
    pub compare: Option<CompareQuery>,
}

/// How many lessons there are (the learn part's chapters; it checks that they agree).
pub const LESSON_COUNT: u32 = 14;

/// An ICE server URL the page accepts: `stun:`, `turn:` or `turns:`, at most 200 characters.
pub fn valid_ice(url: &str) -> bool {
    url.len() <= 200
        && ["stun:", "turn:", "turns:"]
            .iter()
            .any(|p| url.starts_with(p))
        && !url.contains(char::is_whitespace)
}

/// The three views; the round view is the page's main wasm, the others are parts loaded when
/// first opened ([`crate::part`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// The round engine's rumor, round by round.
    Round,
    /// The protocol lab.
    Lab,
    /// Live mode: this tab is a real node.
    Live,
    /// The lessons.
    Learn,
    /// The compare panel: a setting on the x-axis, another as series, many runs per point.
    Compare,
}

/// The settings the compare panel varies, by their URL names: the round engine's.
pub const COMPARE_SETTINGS: [&str; 8] = [
    "fanout", "protocol", "nodes", "loss", "stop", "k", "topology", "crashed",
];

/// The most runs per point the compare panel plays.
pub const MAX_COMPARE_RUNS: u32 = 10_000;

/// The most points (values times series) a comparison draws: a chart a person reads.
pub const MAX_COMPARE_POINTS: usize = 200;

/// One varied setting: its name and its values as written (`1..4`, `push,pull`: the grammar
/// of `grapevine sweep --vary`, [`grapevine_core::sweep::values`]), each value checked as
/// the URL parameter of that name is.
#[derive(Clone, Debug, PartialEq)]
pub struct Varied {
    /// One of [`COMPARE_SETTINGS`].
    pub name: &'static str,
    /// The values as written, without spaces.
    pub spec: String,
    /// The values, in order.
    pub values: Vec<String>,
}

impl Varied {
    /// Reads `NAME:VALUES` (or `NAME` alone: its [`Varied::default_spec`]); why not, in words.
    pub fn parse(text: &str) -> Result<Varied, String> {
        let (name, spec) = text.split_once(':').unwrap_or((text, ""));
        let name = name.trim();
        let Some(&name) = COMPARE_SETTINGS.iter().find(|n| **n == name) else {
            return Err(format!(
                "the compare panel varies {}",
                COMPARE_SETTINGS.join(", ")
            ));
        };
        let spec: String = spec.chars().filter(|c| !c.is_whitespace()).collect();
        let spec = if spec.is_empty() {
            Varied::default_spec(name).to_string()
        } else {
            spec
        };
        let values = grapevine_core::sweep::values(&spec)?;
        for v in &values {
            set_engine(&mut Settings::default(), name, v)
                .unwrap_or(Ok(()))
                .map_err(str::to_string)
                .map_err(|why| format!("{name} {v}: {why}"))?;
        }
        Ok(Varied { name, spec, values })
    }

    /// The values a setting is compared at when none are given: the usual range of each.
    pub fn default_spec(name: &str) -> &'static str {
        match name {
            "fanout" => "1..4",
            "protocol" => "push,pull,pushpull",
            "nodes" => "100..100000*10",
            "loss" => "0,0.1,0.2,0.3,0.4,0.5",
            "stop" => "feedback-counter,feedback-coin,blind-counter,blind-coin",
            "k" => "1..5",
            "topology" => "complete,ring,torus,regular,small-world,scale-free",
            _ => "0,0.1,0.2,0.3,0.4",
        }
    }

    /// As the URL's parameter says it (`fanout:1..4`).
    pub fn to_param(&self) -> String {
        format!("{}:{}", self.name, self.spec)
    }
}

/// What the URL holds for the compare panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Compare {
    /// The setting on the x-axis (`compare=`).
    pub x: Varied,
    /// The setting drawn as series (`series=`), if any.
    pub series: Option<Varied>,
    /// Runs per point (`runs=`).
    pub runs: u32,
    /// The figure on the y-axis (`figure=`), one of the round engine's summarised figures.
    pub figure: &'static str,
}

impl Compare {
    /// Push, pull and push-pull side by side against the fanout, 20 runs a point: the
    /// comparison the panel opens with.
    pub fn first() -> Compare {
        Compare {
            x: Varied::parse("fanout").expect("a default comparison"),
            series: Some(Varied::parse("protocol").expect("a default comparison")),
            runs: 20,
            figure: "rounds_to_full",
        }
    }
}

/// One point of a comparison: its value on the x-axis, its series' value, the run's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct ComparePoint {
    /// The x-axis setting's value.
    pub x: String,
    /// The series setting's value, if there is a series.
    pub series: Option<String>,
    /// The settings its runs play.
    pub settings: Settings,
}

impl Compare {
    /// Every point over `base`, the x-axis' values outermost (as `grapevine sweep --vary X
    /// --vary SERIES` orders them); refuses a point whose settings cannot run, naming it.
    pub fn points(&self, base: &Settings) -> Result<Vec<ComparePoint>, String> {
        let lists: Vec<&Varied> = core::iter::once(&self.x).chain(&self.series).collect();
        let lengths: Vec<usize> = lists.iter().map(|v| v.values.len()).collect();
        let grid = grapevine_core::sweep::grid(&lengths)
            .filter(|g| g.len() <= MAX_COMPARE_POINTS)
            .ok_or_else(|| format!("A chart shows at most {MAX_COMPARE_POINTS} points."))?;
        grid.iter()
            .map(|at| {
                let mut settings = *base;
                let mut named = Vec::new();
                for (list, &i) in lists.iter().zip(at) {
                    let value = &list.values[i];
                    set_engine(&mut settings, list.name, value)
                        .unwrap_or(Ok(()))
                        .map_err(str::to_string)?;
                    named.push(format!("{}={value}", list.name));
                }
                let at_text = named.join(", ");
                let topology = settings.topology;
                if settings.nodes < topology.min_nodes() {
                    return Err(format!(
                        "At {at_text}: a {} topology needs at least {} nodes.",
                        topology.name(),
                        topology.min_nodes()
                    ));
                }
                settings
                    .validate()
                    .map_err(|e| format!("At {at_text}: {e}."))?;
                Ok(ComparePoint {
                    x: lists[0].values[at[0]].clone(),
                    series: lists.get(1).map(|s| s.values[at[1]].clone()),
                    settings,
                })
            })
            .collect()
    }
}

/// Sets one of the round engine's settings (`nodes`, `seed`, ...) as its URL parameter does;
/// why not, in words.
pub fn set_run_param(run: &mut Settings, key: &str, value: &str) -> Result<(), String> {
    match set_engine(run, key, value.trim()) {
        Some(done) => done.map_err(str::to_string),
        None => Err(format!("{key} is not a setting")),
    }
}

/// The round engine's summarised figures by name: what the compare panel's y-axis offers.
pub fn compare_figures() -> impl Iterator<Item = &'static grapevine_core::sweep::Figure> {
    grapevine_core::sweep::ENGINE_FIGURES
        .iter()
        .filter(|f| f.summarised)
}

/// Sets one of the round engine's settings from its URL parameter (`protocol` among push, pull
/// and push-pull only); why not, in words. `None`: `key` is not one of them.
fn set_engine(run: &mut Settings, key: &str, v: &str) -> Option<Result<(), &'static str>> {
    let why = |s: &'static str| Some(Err(s));
    match key {
        "nodes" => match v.parse::<u32>() {
            Ok(n) if (2..=PAGE_MAX_NODES).contains(&n) => run.nodes = n,
            _ => return why("expected a whole number from 2 to 1000000"),
        },
        "protocol" => match Protocol::from_name(v) {
            Some(p) => run.protocol = p,
            None => return why("expected push, pull or pushpull"),
        },
        "fanout" => match v.parse::<u8>() {
            Ok(f) if (1..=MAX_FANOUT).contains(&f) => run.tunables.fanout = f,
            _ => return why("expected a whole number from 1 to 16"),
        },
        "loss" => match v.parse::<f64>() {
            Ok(p) if (0.0..=1.0).contains(&p) => run.tunables.loss = p,
            _ => return why("expected a probability from 0 to 1, such as 0.1"),
        },
        "stop" => {
            match StopRule::from_name(v) {
                Some(r) => run.tunables.interest.rule = r,
                None => return why(
                    "expected none, feedback-counter, feedback-coin, blind-counter or blind-coin",
                ),
            }
        }
        "k" => match v.parse::<u8>() {
            Ok(k) if k >= 1 => run.tunables.interest.k = k,
            _ => return why("expected a whole number from 1 to 255"),
        },
        "topology" => match Topology::from_name(v) {
            Some(t) => run.topology = t,
            None => {
                return why("expected complete, ring, torus, regular, small-world or scale-free")
            }
        },
        "crashed" => match v.parse::<f64>() {
            Ok(c) if (0.0..0.95).contains(&c) => run.crashed = c,
            _ => return why("expected a fraction from 0 to 0.95, such as 0.2"),
        },
        "seed" => match v.parse::<u64>() {
            Ok(seed) => run.seed = seed,
            _ => return why("expected a whole number from 0 to 18446744073709551615"),
        },
        _ => return None,
    }
    Some(Ok(()))
}

/// What the URL holds for the protocol lab.
#[derive(Clone, Debug, PartialEq)]
pub struct LabPage {
    /// The lab's protocol; `None`: the round engine's rumor (push, pull, push-pull).
    pub protocol: Option<&'static ProtocolInfo>,
    /// A preset's name or a scenario's text; `None`: the protocol's default.
    pub scenario: Option<String>,
    /// SWIM: Lifeguard on.
    pub lifeguard: bool,
    /// SWIM: memberlist's push-pull on (URL `pushpull=1`).
    pub push_pull: bool,
    /// Push-sum: what the nodes compute.
    pub aggregate: Aggregate,
    /// The node whose state the inspector shows.
    pub inspect: Option<u32>,
}

impl Default for LabPage {
    fn default() -> Self {
        LabPage {
            protocol: None,
            scenario: None,
            lifeguard: false,
            push_pull: false,
            aggregate: Aggregate::Average,
            inspect: None,
        }
    }
}

impl Default for PageSettings {
    /// The core's defaults on 200 nodes: few enough to draw every message as an arrow.
    fn default() -> Self {
        PageSettings {
            run: Settings {
                nodes: 200,
                ..Settings::default()
            },
            speed: 2,
            lab: LabPage::default(),
            live: None,
            conductor: None,
            code: None,
            ice: Vec::new(),
            lesson: None,
            present: false,
            embed: false,
            compare: None,
        }
    }
}

/// Splits `a=1&b=2` (with or without the leading `?`) into pairs, decoding `%XX` and `+`.
fn pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
}

/// Percent-encodes everything but unreserved characters (a scenario's text goes in the URL).
fn encode(s: &str) -> String {
    encode_keeping(s, b"")
}

/// [`encode`], but a list's commas, stars and colons stay as they are, so that the address
/// bar reads `compare=fanout:1..4&series=protocol:push,pull`.
fn encode_list(s: &str) -> String {
    encode_keeping(s, b",:*")
}

fn encode_keeping(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b if keep.contains(&b) => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b'+', ..) => {
                out.push(b' ');
                i += 1;
            }
            (b, ..) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The compare panel's parameters as the URL gives them (decoded, trimmed), unread.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CompareQuery {
    /// `compare=`: the x-axis' setting and its values.
    pub x: String,
    /// `series=`.
    pub series: Option<String>,
    /// `runs=`.
    pub runs: Option<String>,
    /// `figure=`.
    pub figure: Option<String>,
}

impl CompareQuery {
    /// The parameters that say `compare`.
    pub fn of(compare: &Compare) -> CompareQuery {
        CompareQuery {
            x: compare.x.to_param(),
            series: compare.series.as_ref().map(Varied::to_param),
            runs: Some(compare.runs.to_string()),
            figure: Some(compare.figure.to_string()),
        }
    }
}

impl Compare {
    /// Reads the URL's comparison: what cannot be read falls back to [`Compare::first`]'s,
    /// with a notice each (a series of the x-axis' own setting, or too many points, is left
    /// out).
    pub fn read(q: &CompareQuery) -> (Compare, Vec<String>) {
        let first = Compare::first();
        let mut notices = Vec::new();
        let mut bad = |name: &str, value: &str, why: &str| {
            let shown: String = value.chars().take(40).collect();
            notices.push(format!("Ignored {name}={shown:?}: {why}."));
        };
        let x = Varied::parse(&q.x).unwrap_or_else(|why| {
            bad("compare", &q.x, &why);
            first.x.clone()
        });
        let mut series = match q.series.as_deref() {
            None => None,
            Some("" | "none") => None,
            Some(v) => Varied::parse(v)
                .inspect_err(|why| bad("series", v, why))
                .ok(),
        };
        let runs = match q.runs.as_deref().map(str::parse::<u32>) {
            None => first.runs,
            Some(Ok(r)) if (1..=MAX_COMPARE_RUNS).contains(&r) => r,
            Some(_) => {
                let v = q.runs.as_deref().unwrap_or_default();
                bad(
                    "runs",
                    v,
                    &format!("expected a whole number from 1 to {MAX_COMPARE_RUNS}"),
                );
                first.runs
            }
        };
        let figure = match q.figure.as_deref() {
            None => first.figure,
            Some(v) => match compare_figures().find(|f| f.name == v) {
                Some(f) => f.name,
                None => {
                    let names: Vec<&str> = compare_figures().map(|f| f.name).collect();
                    bad("figure", v, &format!("expected {}", names.join(", ")));
                    first.figure
                }
            },
        };
        let x = if x.values.len() > MAX_COMPARE_POINTS {
            notices.push(format!(
                "Ignored compare={}: more than {MAX_COMPARE_POINTS} values.",
                x.name
            ));
            first.x.clone()
        } else {
            x
        };
        if series.as_ref().is_some_and(|s| s.name == x.name) {
            notices.push(format!(
                "Ignored series={}: it is the x-axis' setting.",
                x.name
            ));
            series = None;
        }
        let points = x.values.len() * series.as_ref().map_or(1, |s| s.values.len());
        if series.is_some() && points > MAX_COMPARE_POINTS {
            notices.push(format!(
                "Ignored series: {points} points are more than a chart shows ({MAX_COMPARE_POINTS})."
            ));
            series = None;
        }
        (
            Compare {
                x,
                series,
                runs,
                figure,
            },
            notices,
        )
    }
}

impl PageSettings {
    /// Reads a query string. Returns the settings and one notice per parameter that was ignored.
    pub fn from_query(query: &str) -> (PageSettings, Vec<String>) {
        let mut s = PageSettings::default();
        let mut notices = Vec::new();
        let mut step = None;
        let mut compare = CompareQuery::default();
        let mut comparing = false;
        let mut bad = |name: &str, value: &str, why: &str| {
            let shown: String = value.chars().take(40).collect();
            notices.push(format!("Ignored {name}={shown:?}: {why}."));
        };
        for (key, value) in pairs(query) {
            let v = value.trim();
            match key.as_str() {
                "protocol" => match (Protocol::from_name(v), ProtocolInfo::named(v)) {
                    (Some(p), _) => s.run.protocol = p,
                    (_, Some(p)) => s.lab.protocol = Some(p),
                    _ => {
                        let lab: Vec<&str> = ProtocolInfo::all().map(|p| p.name).collect();
                        let expected = format!("expected push, pull, pushpull, {}", lab.join(", "));
                        bad("protocol", v, &expected)
                    }
                },
                // Kept as typed; whether it reads and fits the protocol is the lab's to say
                // ([`crate::lab::scenario_notice`]), and a broken one goes in its editor to mend.
                "scenario" => {
                    let preset = PRESETS.iter().any(|p| p.0 == v);
                    s.lab.scenario = Some(if preset { v.to_string() } else { value.clone() });
                }
                "lifeguard" => match v {
                    "1" | "true" => s.lab.lifeguard = true,
                    "0" | "false" => s.lab.lifeguard = false,
                    _ => bad("lifeguard", v, "expected 1 or 0"),
                },
                "pushpull" => match v {
                    "1" | "true" => s.lab.push_pull = true,
                    "0" | "false" => s.lab.push_pull = false,
                    _ => bad("pushpull", v, "expected 1 or 0"),
                },
                "aggregate" => match Aggregate::from_name(v) {
                    Some(a) => s.lab.aggregate = a,
                    None => bad("aggregate", v, "expected average, sum or count"),
                },
                "live" => match v {
                    room if valid_room(room) => s.live = Some(room.to_string()),
                    _ => bad(
                        "live",
                        v,
                        "a room name is 1 to 64 letters, digits, dots, dashes or underscores",
                    ),
                },
                "conductor" => match v {
                    token if grapevine_core::signal::valid_token(token) => {
                        s.conductor = Some(token.to_string())
                    }
                    _ => bad(
                        "conductor",
                        v,
                        "a conductor token is 1 to 128 letters, digits, dashes or underscores",
                    ),
                },
                "code" => match v {
                    c if grapevine_core::signal::valid_join_code(c) => s.code = Some(c.to_string()),
                    _ => bad("code", v, "a join code is 4 to 32 letters or digits"),
                },
                "ice" => {
                    let urls: Vec<String> = v.split(',').map(|u| u.trim().to_string()).collect();
                    if urls.len() <= 4 && urls.iter().all(|u| valid_ice(u)) {
                        s.ice = urls;
                    } else {
                        bad(
                            "ice",
                            v,
                            "expected up to 4 comma-separated stun:, turn: or turns: URLs",
                        );
                    }
                }
                "inspect" => match v.parse::<u32>() {
                    Ok(i) => s.lab.inspect = Some(i),
                    _ => bad("inspect", v, "expected a node number"),
                },
                "source" => match v.parse::<u32>() {
                    Ok(x) => s.run.source = Some(x),
                    _ => bad("source", v, "expected a node number"),
                },
                "speed" => match v.parse::<u32>() {
                    Ok(x) if SPEEDS.contains(&x) => s.speed = x,
                    _ => bad(
                        "speed",
                        v,
                        "expected 1, 2, 5, 10, 30 or 0 (as fast as possible)",
                    ),
                },
                "lesson" => {
                    match v {
                        "" | "0" | "list" => s.lesson = Some((0, 1)),
                        _ => {
                            match v.parse::<u32>() {
                                Ok(n) if (1..=LESSON_COUNT).contains(&n) => s.lesson = Some((n, 1)),
                                _ => {
                                    bad("lesson", v, &format!("there are lessons 1 to {LESSON_COUNT}: here is the list"));
                                    s.lesson = Some((0, 1));
                                }
                            }
                        }
                    }
                }
                "step" => match v.parse::<u32>() {
                    Ok(m) if m >= 1 => step = Some(m),
                    _ => bad("step", v, "expected a step number from 1"),
                },
                "present" => match v {
                    "1" | "true" | "" => s.present = true,
                    "0" | "false" => s.present = false,
                    _ => bad("present", v, "expected 1 or 0"),
                },
                "embed" => match v {
                    "1" | "true" | "" => s.embed = true,
                    "0" | "false" => s.embed = false,
                    _ => bad("embed", v, "expected 1 or 0"),
                },
                "compare" => {
                    compare.x = v.to_string();
                    comparing = true;
                }
                "series" => compare.series = Some(v.to_string()),
                "runs" => compare.runs = Some(v.to_string()),
                "figure" => compare.figure = Some(v.to_string()),
                "" => {}
                other => match set_engine(&mut s.run, other, v) {
                    Some(Ok(())) => {}
                    Some(Err(why)) => bad(other, v, why),
                    None => bad(other, v, "unknown parameter"),
                },
            }
        }
        if comparing {
            s.compare = Some(compare);
        } else {
            for (name, value) in [
                ("series", compare.series),
                ("runs", compare.runs),
                ("figure", compare.figure),
            ] {
                if let Some(v) = value {
                    bad(name, &v, "it belongs to a comparison (compare=NAME)");
                }
            }
        }
        if s.compare.is_some() && s.lab.protocol.is_some() {
            notices.push("The compare panel compares the round engine's rumors (push, pull, push-pull); the lab's protocols are compared with grapevine sweep. Showing the lab.".into());
            s.compare = None;
        }
        match (&mut s.lesson, step) {
            (Some((n, m)), Some(step)) if *n > 0 => *m = step,
            (_, Some(step)) => notices.push(format!(
                "Ignored step={step}: a step belongs to a lesson (lesson=N)."
            )),
            _ => {}
        }
        if s.lab.protocol.is_some() && s.run.nodes > MAX_LAB_NODES {
            notices.push(format!(
                "The lab's protocols take at most {MAX_LAB_NODES} nodes (each node keeps a view of every other): using {MAX_LAB_NODES}."
            ));
            s.run.nodes = MAX_LAB_NODES;
        }
        if let Some(i) = s.lab.inspect.filter(|&i| i >= s.run.nodes) {
            notices.push(format!(
                "There is no node {i} to inspect among {} nodes.",
                s.run.nodes
            ));
            s.lab.inspect = None;
        }
        if s.run.nodes < s.run.topology.min_nodes() {
            notices.push(format!(
                "A {} topology needs at least {} nodes: using the complete graph.",
                s.run.topology.name(),
                s.run.topology.min_nodes()
            ));
            s.run.topology = Topology::Complete;
        }
        if let Some(source) = s.run.source.filter(|&x| x >= s.run.nodes) {
            notices.push(format!(
                "There is no node {source} among {} nodes: the source is the first live node.",
                s.run.nodes
            ));
            s.run.source = None;
        }
        (s, notices)
    }

    /// The view these settings show.
    pub fn view(&self) -> View {
        if self.live.is_some() {
            View::Live
        } else if self.lesson.is_some() {
            View::Learn
        } else if self.lab.protocol.is_some() {
            View::Lab
        } else if self.compare.is_some() {
            View::Compare
        } else {
            View::Round
        }
    }

    /// Every setting, as a query string for handing the page from one part to another: the
    /// round view's settings, then the view's own (a later parameter wins), so that a trip
    /// through the lab and live mode back to the round view keeps them all, and the
    /// conductor's token, which the address bar never shows. [`PageSettings::from_query`]
    /// reads it back without a notice.
    pub fn to_handoff(&self) -> String {
        let mut round = PageSettings {
            lab: LabPage::default(),
            live: None,
            lesson: None,
            compare: None,
            ..self.clone()
        };
        // A node chosen among more nodes than the lab takes would not exist there.
        round.run.source = round.run.source.filter(|&x| x < round.run.nodes);
        let mut q = round.to_query();
        if self.view() != View::Round {
            q.push('&');
            q.push_str(&self.to_query()[1..]);
        }
        if let Some(token) = &self.conductor {
            q.push_str(&format!("&conductor={}", encode(token)));
        }
        if let Some(code) = &self.code {
            q.push_str(&format!("&code={}", encode(code)));
        }
        q
    }

    /// The query string (with `?`) that restores these settings.
    pub fn to_query(&self) -> String {
        let mut q = self.view_query();
        if self.present {
            q.push_str("&present=1");
        }
        if self.embed {
            q.push_str("&embed=1");
        }
        q
    }

    /// The query of the view these settings show, without the display modes.
    fn view_query(&self) -> String {
        let r = &self.run;
        if let Some((n, m)) = self.lesson.filter(|_| self.live.is_none()) {
            return if n == 0 {
                "?lesson=0".into()
            } else {
                format!("?lesson={n}&step={m}")
            };
        }
        if let Some(room) = &self.live {
            let ice = if self.ice.is_empty() {
                String::new()
            } else {
                format!("&ice={}", encode(&self.ice.join(",")))
            };
            // Not the conductor token: the conductor's tab is projected, and its address
            // bar with it. The tab keeps the token in sessionStorage instead.
            return format!("?live={room}{ice}");
        }
        if let Some(protocol) = self.lab.protocol {
            let lab = &self.lab;
            let mut q = format!(
                "?protocol={}&nodes={}&loss={}&seed={}&speed={}",
                protocol.name, r.nodes, r.tunables.loss, r.seed, self.speed
            );
            if let Some(scenario) = &lab.scenario {
                q.push_str(&format!("&scenario={}", encode(scenario)));
            }
            if protocol.takes(LabOption::Lifeguard) && lab.lifeguard {
                q.push_str("&lifeguard=1");
            }
            if protocol.takes(LabOption::PushPull) && lab.push_pull {
                q.push_str("&pushpull=1");
            }
            if protocol.takes(LabOption::Fanout) {
                q.push_str(&format!("&fanout={}", r.tunables.fanout));
            }
            if protocol.takes(LabOption::Stop) {
                let i = r.tunables.interest;
                q.push_str(&format!("&stop={}&k={}", i.rule.name(), i.k));
            }
            if protocol.takes(LabOption::Aggregate) && lab.aggregate != Aggregate::Average {
                q.push_str(&format!("&aggregate={}", lab.aggregate.name()));
            }
            if let Some(i) = lab.inspect {
                q.push_str(&format!("&inspect={i}"));
            }
            return q;
        }
        let source = r.source.map(|x| format!("&source={x}")).unwrap_or_default();
        let mut q = format!(
            "?nodes={}&protocol={}&fanout={}&loss={}&stop={}&k={}&topology={}&crashed={}&seed={}&speed={}{source}",
            r.nodes,
            r.protocol.name(),
            r.tunables.fanout,
            r.tunables.loss,
            r.tunables.interest.rule.name(),
            r.tunables.interest.k,
            r.topology.name(),
            r.crashed,
            r.seed,
            self.speed
        );
        if let Some(c) = &self.compare {
            q.push_str(&format!("&compare={}", encode_list(&c.x)));
            for (name, value) in [
                ("series", &c.series),
                ("runs", &c.runs),
                ("figure", &c.figure),
            ] {
                if let Some(v) = value {
                    q.push_str(&format!("&{name}={}", encode_list(v)));
                }
            }
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grapevine_core::{Interest, Tunables};

    #[test]
    fn query_round_trips() {
        let mut s = PageSettings::default();
        s.run.nodes = 12_345;
        s.run.protocol = Protocol::PushPull;
        s.run.tunables = Tunables {
            fanout: 3,
            loss: 0.25,
            interest: Interest::new(StopRule::BlindCoin, 4),
        };
        s.run.topology = Topology::SmallWorld;
        s.run.crashed = 0.1;
        s.run.seed = u64::MAX;
        s.run.source = Some(77);
        s.speed = 0;
        let (back, notices) = PageSettings::from_query(&s.to_query());
        assert_eq!(back, s);
        assert!(notices.is_empty());
    }

    #[test]
    fn lab_query_round_trips_with_a_scenario_text() {
        let mut s = PageSettings::default();
        s.run.nodes = 1_000;
        s.run.seed = 99;
        s.run.tunables.loss = 0.05;
        s.lab = LabPage {
            protocol: ProtocolInfo::named("swim"),
            scenario: Some(
                "at 2.5s crash 3 # a comment & more\nat 4s set 1 k a=b c%d\nend 30s".into(),
            ),
            lifeguard: true,
            push_pull: true,
            aggregate: Aggregate::Average,
            inspect: Some(7),
        };
        let (back, notices) = PageSettings::from_query(&s.to_query());
        assert_eq!(back, s);
        assert!(notices.is_empty(), "{notices:?}");
        s.lab.protocol = ProtocolInfo::named("push-sum");
        s.lab.aggregate = Aggregate::Count;
        s.lab.lifeguard = false;
        s.lab.push_pull = false;
        s.lab.scenario = Some("split-brain".into());
        assert_eq!(PageSettings::from_query(&s.to_query()).0, s);
    }

    /// The parts hand the page to each other as a query: nothing may be lost on the way.
    #[test]
    fn the_handoff_keeps_every_setting_of_every_view() {
        let (mut s, _) = PageSettings::from_query(
            "nodes=500&protocol=pull&fanout=3&loss=0.2&stop=blind-coin&k=3&topology=torus&crashed=0.1&seed=42&speed=5&source=7",
        );
        let round = s.clone();
        assert_eq!(
            PageSettings::from_query(&s.to_handoff()),
            (s.clone(), vec![])
        );
        s.lab.protocol = ProtocolInfo::named("rumor");
        s.lab.scenario = Some("at 1s crash 2".into());
        s.lab.inspect = Some(3);
        assert_eq!(s.view(), View::Lab);
        assert_eq!(
            PageSettings::from_query(&s.to_handoff()),
            (s.clone(), vec![])
        );
        s.live = Some("class".into());
        s.ice = vec!["stun:example.org:3478".into()];
        s.conductor = Some("tok-1".into());
        s.code = Some("482 913".into());
        let (back, notices) = PageSettings::from_query(&s.to_handoff());
        assert!(notices.is_empty(), "{notices:?}");
        assert_eq!(back.view(), View::Live);
        assert_eq!(
            (
                back.live.as_deref(),
                back.conductor.as_deref(),
                back.code.as_deref()
            ),
            (Some("class"), Some("tok-1"), Some("482 913"))
        );
        assert_eq!(back.ice, s.ice);
        // Back to the simulator: the round view's settings, as they were.
        let home = PageSettings {
            live: None,
            lab: LabPage::default(),
            conductor: None,
            code: None,
            ice: vec![],
            ..back
        };
        assert_eq!(home, round);
    }

    #[test]
    fn the_conductor_token_is_read_but_never_written_back() {
        let (s, notices) = PageSettings::from_query("live=class&conductor=teach-1234");
        assert_eq!(s.conductor.as_deref(), Some("teach-1234"));
        assert!(notices.is_empty());
        // The conductor's tab is projected: its address bar must not show the token.
        assert_eq!(s.to_query(), "?live=class");
        let (s, notices) = PageSettings::from_query("live=class&code=482913");
        assert_eq!((s.code.as_deref(), notices.len()), (Some("482913"), 0));
        assert_eq!(s.to_query(), "?live=class");
        for bad in [
            "conductor=",
            "conductor=a%20b",
            "conductor=%3Cx%3E",
            "code=12",
            "code=%3Cx%3E",
        ] {
            let (s, notices) = PageSettings::from_query(&format!("live=class&{bad}"));
            assert_eq!((&s.conductor, &s.code), (&None, &None), "{bad}");
            assert_eq!(notices.len(), 1, "{bad}");
        }
    }

    #[test]
    fn live_rooms_round_trip_and_bad_names_are_refused() {
        let (s, notices) = PageSettings::from_query("live=class-3.b_2");
        assert_eq!(s.live.as_deref(), Some("class-3.b_2"));
        assert!(notices.is_empty());
        assert_eq!(PageSettings::from_query(&s.to_query()).0, s);
        for bad in [
            "live=",
            "live=a%20b",
            "live=%3Cscript%3E",
            &format!("live={}", "x".repeat(65)),
        ] {
            let (s, notices) = PageSettings::from_query(bad);
            assert_eq!(s.live, None, "{bad}");
            assert_eq!(notices.len(), 1, "{bad}");
        }
    }

    #[test]
    fn the_lab_caps_nodes_and_the_inspected_node() {
        let (s, notices) = PageSettings::from_query("protocol=kv&nodes=20000&inspect=9999");
        assert_eq!(s.run.nodes, MAX_LAB_NODES);
        assert_eq!(s.lab.inspect, None);
        assert_eq!(notices.len(), 2, "{notices:?}");
    }

    #[test]
    fn bad_parameters_fall_back_with_a_notice_each() {
        let (s, notices) = PageSettings::from_query(
            "?nodes=0&protocol=shout&fanout=99&loss=2&stop=maybe&k=0&topology=blob&crashed=1&seed=-1&speed=7&x=1&seed=%ZZ&lifeguard=yes&pushpull=2&aggregate=max&inspect=-1",
        );
        assert_eq!(s, PageSettings::default());
        assert_eq!(notices.len(), 16, "{notices:#?}");
        assert!(notices[0].contains("nodes"));
    }

    #[test]
    fn a_topology_too_big_for_the_nodes_falls_back_to_complete() {
        let (s, notices) = PageSettings::from_query("nodes=5&topology=torus");
        assert_eq!(s.run.topology, Topology::Complete);
        assert_eq!(s.run.nodes, 5);
        assert_eq!(notices.len(), 1);
    }

    #[test]
    fn a_comparison_round_trips_and_opens_the_compare_view() {
        let (s, notices) = PageSettings::from_query(
            "nodes=1000&seed=7&compare=fanout:1..3&series=protocol:push,%20pull&runs=12&figure=residue",
        );
        assert!(notices.is_empty(), "{notices:?}");
        assert_eq!(s.view(), View::Compare);
        let (c, notices) = Compare::read(s.compare.as_ref().unwrap());
        assert!(notices.is_empty(), "{notices:?}");
        assert_eq!(
            (c.x.name, c.x.values.clone()),
            ("fanout", vec!["1".into(), "2".into(), "3".into()])
        );
        let series = c.series.clone().unwrap();
        assert_eq!(
            (series.name, series.spec.as_str()),
            ("protocol", "push,pull")
        );
        assert_eq!((c.runs, c.figure), (12, "residue"));
        // What the panel writes back reads as the same comparison, and the address bar shows
        // the lists as they are.
        let written = PageSettings {
            compare: Some(CompareQuery::of(&c)),
            ..s.clone()
        };
        let query = written.to_query();
        assert!(
            query.contains("&compare=fanout:1..3&series=protocol:push,pull&runs=12&figure=residue"),
            "{query}"
        );
        assert_eq!(PageSettings::from_query(&query), (written.clone(), vec![]));
        assert_eq!(
            PageSettings::from_query(&written.to_handoff()),
            (written.clone(), vec![])
        );
        assert_eq!(Compare::read(written.compare.as_ref().unwrap()).0, c);
        // A setting alone takes its usual values; log steps are kept as written.
        let (s, _) = PageSettings::from_query("compare=nodes&series=none");
        let (c, _) = Compare::read(s.compare.as_ref().unwrap());
        assert_eq!(
            (c.x.spec.as_str(), c.x.values.len(), &c.series),
            ("100..100000*10", 4, &None)
        );
        assert_eq!(
            (c.runs, c.figure),
            (Compare::first().runs, Compare::first().figure)
        );
    }

    #[test]
    fn a_bad_comparison_falls_back_with_a_notice_naming_the_value() {
        for (query, says) in [
            ("compare=colour:1,2", "the compare panel varies fanout"),
            (
                "compare=fanout:0..3",
                "fanout 0: expected a whole number from 1 to 16",
            ),
            (
                "compare=protocol:push,swim",
                "protocol swim: expected push, pull or pushpull",
            ),
            ("compare=loss:0.1,0.1", "0.1 is given twice"),
            ("compare=fanout:4..1", "4 is more than 1"),
        ] {
            let (s, notices) = PageSettings::from_query(query);
            assert_eq!((s.view(), notices.len()), (View::Compare, 0), "{query}");
            let (c, notices) = Compare::read(s.compare.as_ref().unwrap());
            assert_eq!(c.x, Compare::first().x, "{query}");
            assert!(
                notices.len() == 1 && notices[0].contains(says),
                "{query}: {notices:?}"
            );
        }
        let (s, _) =
            PageSettings::from_query("compare=fanout&series=fanout:1,2&runs=0&figure=rounds");
        let (c, notices) = Compare::read(s.compare.as_ref().unwrap());
        assert_eq!((c.series, c.runs, c.figure), (None, 20, "rounds_to_full"));
        assert_eq!(notices.len(), 3, "{notices:?}");
        // Too many values on the x-axis: the usual ones, and the series kept (it fits them).
        let (s, _) = PageSettings::from_query("compare=nodes:2..1000&series=protocol");
        let (c, notices) = Compare::read(s.compare.as_ref().unwrap());
        assert_eq!(
            (c.x, c.series.map(|s| s.name)),
            (Compare::first().x, Some("protocol"))
        );
        assert_eq!(notices.len(), 1, "{notices:?}");
        // Too many points with the series: the series goes.
        let (s, _) = PageSettings::from_query("compare=fanout:1..16&series=nodes:2..100");
        let (c, notices) = Compare::read(s.compare.as_ref().unwrap());
        assert_eq!((c.x.values.len(), c.series), (16, None));
        assert!(notices[0].contains("1584 points"), "{notices:?}");
        // A comparison's parameters without one, and the lab's protocols, are not compared.
        let (s, notices) = PageSettings::from_query("series=protocol&runs=3");
        assert_eq!((s.view(), notices.len()), (View::Round, 2), "{notices:?}");
        let (s, notices) = PageSettings::from_query("protocol=swim&compare=fanout");
        assert_eq!((s.view(), notices.len()), (View::Lab, 1));
    }

    #[test]
    fn percent_escapes_and_garbage_never_panic() {
        for q in [
            "%",
            "%%",
            "a=%e2%82",
            "nodes=%32%30",
            "=&&=",
            "seed=\u{1F600}",
            "compare=fanout:18446744073709551615..18446744073709551615",
            "compare=k:1..18446744073709551615*2",
            "compare=k:1..100000&series=loss:0,0,0",
        ] {
            let (s, _) = PageSettings::from_query(q);
            if let Some(c) = &s.compare {
                let _ = Compare::read(c);
            }
        }
        assert_eq!(PageSettings::from_query("nodes=%32%30").0.run.nodes, 20);
    }
}
