//! `grapevine peer`: N native members of a live room in one process, to fill a room for a
//! test, a soak or a class with few devices. Each is the same [`LiveNode`] a tab runs, joined
//! through `grapevine serve`'s signaling under its own id, linked to others by the same rule
//! as a tab ([`Mesh`]), and talking over the server's relay (a native peer has no WebRTC: a
//! tab's offer is answered with "relay"). Tabs and native peers are one membership.
//!
//! With `--json`, one JSON object per line on stdout per event (a rumor heard, a member's
//! status changed) and a summary at exit; without, a status line every few seconds. On
//! SIGINT or SIGTERM every member leaves gracefully (SWIM's leave, told to every linked
//! member) before the process exits.

use clap::Args;
use futures_util::{SinkExt, StreamExt};
use grapevine_core::auth::Identity;
use grapevine_core::lab::conduct::Command as OrderCommand;
use grapevine_core::lab::live::{LiveConfig, LiveEvent, LiveNode};
use grapevine_core::lab::mesh::{Answer, LinkTarget, Mesh};
use grapevine_core::lab::record;
use grapevine_core::lab::room::Carrier;
use grapevine_core::lab::rumor::{RumorConfig, RumorEvent};
use grapevine_core::lab::swim::{MemberState, SwimEvent};
use grapevine_core::lab::wire::MAX_MESSAGE_BYTES;
use grapevine_core::lab::{Millis, NodeId};
use grapevine_core::rng::{GossipRng, Stream};
use grapevine_core::rules::MAX_FANOUT;
use grapevine_core::signal::{
    self, parse_peer, peer_hex, prove, read_relay_batch, relay_decode, valid_room, FromClient,
    LinkSignal, RelayOutbox, Signal, ToClient,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

/// `grapevine peer`'s flags.
#[derive(Args, Debug, Clone)]
pub struct PeerArgs {
    /// The server (`grapevine serve`'s address), e.g. http://192.168.1.10:8080.
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The room to join (as in the page's ?live=ROOM).
    #[arg(long, value_name = "ROOM")]
    pub room: String,
    /// How many members to run.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub count: u32,
    /// Links each member holds at most: a partial mesh on purpose (it asks for three quarters
    /// of them, leaving room for newcomers). Default: a tab's (asks for 8, holds up to 12).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(3..=64))]
    pub links: Option<u32>,
    /// Peers each member tells a rumor per interval, as the page's fanout.
    #[arg(long, value_name = "F", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(1..=i64::from(MAX_FANOUT)))]
    pub fanout: u8,
    /// Gossip interval, ms (the SWIM period too, at least 200 ms), as the page's.
    #[arg(long, value_name = "MS", default_value_t = 500,
          value_parser = clap::value_parser!(u32).range(10..=60_000))]
    pub interval: u32,
    /// Probability that a member drops a message it sends, in [0, 1).
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = crate::parse_loss)]
    pub loss: f64,
    /// Start a rumor at a random member every this many seconds (0: never).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0, value_parser = parse_seconds)]
    pub rumor_every: f64,
    /// Start at most this many rumors (with `--rumor-every`; default: no limit). `--rumors 1`
    /// starts one rumor `--rumor-every` seconds after the start, and no more.
    #[arg(long, value_name = "N", requires = "rumor_every",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub rumors: Option<u64>,
    /// Seed of the members' random choices and of who starts each rumor (default: random,
    /// printed). Ids are random either way: two processes must not collide in a room.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// The room's join code, when the server asks for one (`grapevine serve --join-code`):
    /// shown on the conductor's page, or fixed by the server's flag.
    #[arg(long, value_name = "CODE")]
    pub join_code: Option<String>,
    /// One JSON object per line per event, and a summary at exit.
    #[arg(long)]
    pub json: bool,
    /// Leave after this many seconds (default: run until interrupted).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub duration: Option<f64>,
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && (0.0..=1e6).contains(&x) => Ok(x),
        _ => Err("expected seconds, a number from 0 to 1000000".into()),
    }
}

/// The loop's tick: deadlines are checked, and relayed messages sent, this often.
const TICK: Duration = Duration::from_millis(50);
/// Frames a member reads, when they keep arriving, before it takes its tick again: a tick's
/// worth from each of its links and more (the server sends one relay frame per sender and
/// tick), so frames wait for the tick only in a flood.
const MAX_FRAMES_IN_A_ROW: u32 = 64;
/// How often a member looks for links it is missing.
const LINK_EVERY: Duration = Duration::from_secs(1);
/// How often a member tells the server its links (and so stays active there).
const LINKS_REPORT_EVERY: Duration = Duration::from_secs(5);
/// A link whose hello is not answered within this long is given up (the other side refused,
/// or left).
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait before connecting again after the server went away.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Lines to stdout, written in order by a thread of their own, so the members never wait on
/// whoever reads them. Written from the members' tasks, a reader slower than the room (a
/// script parsing every line as it comes, as e2e/bench-live.mjs does) held every member up on
/// a full pipe: probes went unanswered, and an idle room of 60 counted thousands of
/// suspicions no network caused. Lines a slow reader has not taken yet wait in memory.
struct Output {
    json: bool,
    to_writer: std::sync::mpsc::Sender<Written>,
}

/// What the writer thread is handed.
enum Written {
    Line(String),
    /// Every line before this one is out: say so.
    Flushed(std::sync::mpsc::SyncSender<()>),
}

impl Output {
    fn new(json: bool) -> Output {
        Output::to(json, std::io::stdout())
    }

    /// Lines to `out` (stdout, or a pipe in a test).
    fn to(json: bool, mut out: impl Write + Send + 'static) -> Output {
        let (to_writer, lines) = std::sync::mpsc::channel::<Written>();
        std::thread::spawn(move || {
            for written in lines {
                match written {
                    Written::Line(line) => {
                        let _ = writeln!(out, "{line}");
                        let _ = out.flush();
                    }
                    Written::Flushed(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        Output { json, to_writer }
    }

    fn line(&self, value: serde_json::Value) {
        if self.json {
            let _ = self.to_writer.send(Written::Line(value.to_string()));
        }
    }

    fn say(&self, text: &str) {
        if !self.json {
            let _ = self.to_writer.send(Written::Line(text.to_string()));
        }
    }

    /// Waits until every line so far is written (before the process exits).
    fn flush(&self) {
        let (done, written) = std::sync::mpsc::sync_channel(1);
        if self.to_writer.send(Written::Flushed(done)).is_ok() {
            let _ = written.recv();
        }
    }
}

/// What a member reports at the end (and, for the status line, on the way).
#[derive(Clone, Debug, Default)]
struct Status {
    members_alive: usize,
    links: usize,
    rumors_started: u64,
    rumor_arrivals: u64,
    latency_ms_total: u64,
    sent: u64,
    received: u64,
    dropped: u64,
    malformed: u64,
    /// Messages from members it holds no link to (benign: sent before an unlink arrived).
    unlinked: u64,
    /// What peers sent that the member refused (forged, unsigned, over a cap or a rate).
    refused: u64,
    /// The same by reason.
    refused_by: std::collections::BTreeMap<&'static str, u64>,
    relay_bytes_sent: u64,
    relay_bytes_received: u64,
    relay_dropped: u64,
    connected: bool,
}

/// Runs the members until interrupted (or `--duration`).
pub fn run(args: PeerArgs) -> Result<(), crate::Usage> {
    let url = signal_url(&args.url)?;
    if !valid_room(&args.room) {
        return Err(crate::Usage(
            "error: invalid --room: 1 to 64 of A-Z a-z 0-9 . _ -".into(),
        ));
    }
    if let Some(bad) = args
        .join_code
        .as_deref()
        .filter(|c| !signal::valid_join_code(c))
    {
        return Err(crate::Usage(format!(
            "error: invalid --join-code {bad:?}: 4 to 32 letters or digits (spaces and '-' allowed between them)"
        )));
    }
    let seed = match args.seed {
        Some(seed) => seed,
        None => random_u64()
            .ok_or_else(|| crate::Usage("error: no randomness from the OS for --seed".into()))?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| crate::Usage(format!("error: starting: {e}")))?;
    runtime.block_on(run_members(args, url, seed))
}

/// `http://HOST:PORT[/]` as the signaling WebSocket's address.
fn signal_url(url: &str) -> Result<String, crate::Usage> {
    let bad = |why: &str| crate::Usage(format!("error: invalid --url: {why}"));
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("ws://"))
        .ok_or_else(|| {
            if url.starts_with("https://") || url.starts_with("wss://") {
                bad("TLS is not supported here: give grapevine serve's http:// address")
            } else {
                bad("expected http://HOST:PORT (grapevine serve's address)")
            }
        })?;
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains(['/', '?', '#', ' ']) {
        return Err(bad("expected http://HOST:PORT with no path"));
    }
    Ok(format!("ws://{host}/signal"))
}

fn random_u64() -> Option<u64> {
    getrandom::u64().ok()
}

async fn run_members(args: PeerArgs, url: String, seed: u64) -> Result<(), crate::Usage> {
    let out = Arc::new(Output::new(args.json));
    let started = Instant::now();
    // Whether the server is there at all: one clear error rather than N members retrying.
    let host = url
        .trim_start_matches("ws://")
        .trim_end_matches("/signal")
        .to_string();
    let address = if host
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        host
    } else {
        format!("{host}:80")
    };
    if let Err(e) = tokio::net::TcpStream::connect(&address).await {
        return Err(crate::Usage(format!(
            "error: cannot reach the server at {}: {e}",
            args.url
        )));
    }
    out.say(&format!(
        "grapevine peer: {} members joining room {} at {} (seed {seed}; links up to {}, fanout {}, interval {} ms, loss {})",
        args.count,
        args.room,
        args.url,
        args.links.map_or(LinkTarget::TAB.cap as u32, |k| k),
        args.fanout,
        args.interval,
        args.loss
    ));
    // The record's first line: what `grapevine sweep --room` reads the rumors' times by.
    out.line(record_line(&record::Line::Room {
        members: args.count,
        fanout: args.fanout,
        interval_ms: args.interval,
        loss: args.loss,
    }));
    let (stop_tx, stop_rx) = watch::channel(false);
    let statuses: Arc<Mutex<Vec<Status>>> =
        Arc::new(Mutex::new(vec![Status::default(); args.count as usize]));
    let mut commands = Vec::new();
    let mut tasks = Vec::new();
    let (refusals_tx, mut refusals) = mpsc::unbounded_channel();
    for i in 0..args.count {
        let (tx, rx) = mpsc::channel(16);
        commands.push(tx);
        // A key from the OS's generator: the member's id is its digest.
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|e| crate::Usage(format!("error: no random numbers for a key: {e}")))?;
        let member = Member::new(&args, Identity::from_secret(secret), seed, i);
        tasks.push(tokio::spawn(member.run(
            url.clone(),
            args.room.clone(),
            out.clone(),
            statuses.clone(),
            i as usize,
            stop_rx.clone(),
            rx,
            refusals_tx.clone(),
        )));
    }
    drop(refusals_tx);
    // Members the server refused, and why (each reason once, in the order first seen).
    let (mut refused, mut reasons) = (0u32, Vec::<String>::new());
    let mut chooser = GossipRng::derive(seed, Stream::Scenario, 0);
    let rumor_every = (args.rumor_every > 0.0).then(|| Duration::from_secs_f64(args.rumor_every));
    let rumors_wanted = args.rumors.unwrap_or(u64::MAX);
    let mut next_rumor = rumor_every.map(|d| tokio::time::Instant::now() + d);
    let mut next_status = tokio::time::Instant::now() + Duration::from_secs(5);
    let deadline = args
        .duration
        .map(|d| tokio::time::Instant::now() + Duration::from_secs_f64(d));
    let mut rumors = 0u64;
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| crate::Usage(format!("error: {e}")))?;
    loop {
        let far = tokio::time::Instant::now() + Duration::from_secs(3_600);
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = sigterm.recv() => break,
            _ = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() => break,
            _ = tokio::time::sleep_until(next_rumor.unwrap_or(far)), if next_rumor.is_some() => {
                let who = chooser.below(args.count) as usize;
                // Counted when the member takes it (its queue may be full for a moment).
                if commands[who].try_send(Command::StartRumor(format!("rumor {} from native peer {who}", rumors + 1))).is_ok() {
                    rumors += 1;
                }
                next_rumor = rumor_every
                    .filter(|_| rumors < rumors_wanted)
                    .map(|d| tokio::time::Instant::now() + d);
            }
            _ = tokio::time::sleep_until(next_status) => {
                next_status += Duration::from_secs(5);
                let s = statuses.lock().expect("statuses").clone();
                out.say(&status_line(&s, started));
            }
            Some(why) = refusals.recv() => {
                refused += 1;
                if !reasons.contains(&why) {
                    reasons.push(why);
                }
                if refused == args.count {
                    break; // Nobody is left in the room.
                }
            }
        }
    }
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    let s = statuses.lock().expect("statuses").clone();
    let summary = summary(&args, seed, &s, started);
    if args.json {
        out.line(summary);
    } else {
        out.say(&format!("left the room: {summary}"));
    }
    out.flush();
    if refused > 0 {
        // One line on stderr, and exit code 1: a script that starts a class of native
        // members learns that some never joined, and why.
        let who = match (refused, args.count) {
            (1, 1) => "the member was".to_string(),
            (r, n) if r == n => format!("all {n} members were"),
            (1, n) => format!("1 of {n} members was"),
            (r, n) => format!("{r} of {n} members were"),
        };
        eprintln!("error: {who} refused by the server: {}", reasons.join("; "));
        std::process::exit(1);
    }
    Ok(())
}

/// Why the server refused a member, from the code and reason of the frame that closed its
/// connection; `None` for a close it may come back from (idle, replaced, the server going
/// away): a full room, server or address share, a key not proven, a broken rule.
fn refusal(code: u16, reason: &str) -> Option<String> {
    use grapevine_core::signal::close::{
        JOIN_CODE, LOCKED, NOT_PROVEN, POLICY, REMOVED, TRY_LATER,
    };
    let reason = if reason.is_empty() {
        "no reason given"
    } else {
        reason
    };
    matches!(
        code,
        TRY_LATER | NOT_PROVEN | POLICY | JOIN_CODE | LOCKED | REMOVED
    )
    .then(|| format!("{reason} (close code {code})"))
}

/// Min, median and max of `values`.
fn spread(mut values: Vec<usize>) -> (usize, usize, usize) {
    values.sort_unstable();
    let pick = |i: usize| values.get(i).copied().unwrap_or(0);
    (
        pick(0),
        pick(values.len() / 2),
        pick(values.len().saturating_sub(1)),
    )
}

fn status_line(statuses: &[Status], started: Instant) -> String {
    let (mmin, _, mmax) = spread(statuses.iter().map(|s| s.members_alive).collect());
    let (lmin, lmed, lmax) = spread(statuses.iter().map(|s| s.links).collect());
    let connected = statuses.iter().filter(|s| s.connected).count();
    let arrivals: u64 = statuses.iter().map(|s| s.rumor_arrivals).sum();
    format!(
        "{:>6.1} s: {connected}/{} connected, others alive {mmin}..{mmax}, links {lmin}/{lmed}/{lmax} (min/median/max), {arrivals} rumor arrivals",
        started.elapsed().as_secs_f64(),
        statuses.len()
    )
}

fn summary(args: &PeerArgs, seed: u64, s: &[Status], started: Instant) -> serde_json::Value {
    let sum = |f: fn(&Status) -> u64| s.iter().map(f).sum::<u64>();
    let (mmin, mmed, mmax) = spread(s.iter().map(|s| s.members_alive).collect());
    let (lmin, lmed, lmax) = spread(s.iter().map(|s| s.links).collect());
    let arrivals = sum(|s| s.rumor_arrivals);
    json!({
        "event": "summary",
        "room": args.room,
        "peers": s.len(),
        "seed": seed,
        "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        "rumors_started": sum(|s| s.rumors_started),
        "rumor_arrivals": arrivals,
        "mean_latency_ms": sum(|s| s.latency_ms_total).checked_div(arrivals).unwrap_or(0),
        "members_alive": { "min": mmin, "median": mmed, "max": mmax },
        "links": { "min": lmin, "median": lmed, "max": lmax },
        "sent": sum(|s| s.sent),
        "received": sum(|s| s.received),
        "dropped": sum(|s| s.dropped),
        "malformed": sum(|s| s.malformed),
        "unlinked": sum(|s| s.unlinked),
        "refused": sum(|s| s.refused),
        "refused_by": s.iter().fold(std::collections::BTreeMap::<&str, u64>::new(), |mut all, s| {
            for (&why, &n) in &s.refused_by {
                *all.entry(why).or_default() += n;
            }
            all
        }),
        "relay_bytes_sent": sum(|s| s.relay_bytes_sent),
        "relay_bytes_received": sum(|s| s.relay_bytes_received),
        "relay_dropped": sum(|s| s.relay_dropped),
        "theory": theory(args, mmax + 1),
    })
}

/// What theory expects in a room of `n` (the core's mean-field model, on a complete graph:
/// a member's links are a partial mesh, so measured times run somewhat longer): a rumor pushed
/// with the fanout every interval, and membership news spread as SWIM's infection-style
/// dissemination does, piggybacked both ways on one probe per period (push-pull, fanout 1).
fn theory(args: &PeerArgs, n: usize) -> serde_json::Value {
    use grapevine_core::theory::Model;
    use grapevine_core::{Interest, Protocol, Settings, Topology, Tunables};
    let n = n.max(2) as u32;
    let rounds = |protocol: Protocol, fanout: u8| {
        let settings = Settings {
            nodes: n,
            protocol,
            tunables: Tunables {
                fanout,
                loss: args.loss,
                interest: Interest::FOREVER,
            },
            topology: Topology::Complete,
            crashed: 0.0,
            seed: 0,
            source: None,
        };
        Model::of(&settings, n).expected_rounds(10_000)
    };
    let period = args.interval.max(200);
    let rumor = rounds(Protocol::Push, args.fanout);
    let membership = rounds(Protocol::PushPull, 1);
    json!({
        "members": n,
        "rumor_rounds": rumor,
        "rumor_ms": rumor.map(|r| u64::from(r) * u64::from(args.interval)),
        "membership_rounds": membership,
        "membership_ms": membership.map(|r| u64::from(r) * u64::from(period)),
    })
}

/// What the process asks of one member.
#[derive(Debug)]
enum Command {
    StartRumor(String),
}

/// Milliseconds since the epoch: the same clock as the tabs' (a rumor's latency is its
/// arrival minus its birth).
fn now() -> Millis {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Millis(since.as_millis() as u64)
}

/// One native member: its node, its mesh, its relay links.
struct Member {
    id: NodeId,
    /// Its key (it proves the id to the server with it, and signs its news).
    identity: Identity,
    node: LiveNode,
    mesh: Mesh,
    /// Relay links and when each was made (a hello unanswered for long is given up).
    links: BTreeMap<NodeId, Instant>,
    /// Relay frames from the server that would not decode (the node counts its own).
    malformed_frames: u64,
    /// Why the server refused this member, when it did (see [`refusal`]).
    refused: Option<String>,
    /// `&code=CODE` for the join, or nothing.
    code_query: String,
    status: Status,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Member {
    fn new(args: &PeerArgs, identity: Identity, seed: u64, index: u32) -> Member {
        let id = identity.id();
        let config = LiveConfig {
            rumor: RumorConfig {
                interval_ms: args.interval,
                fanout: args.fanout,
                ..RumorConfig::default()
            },
            loss: args.loss,
        };
        let mut draw = GossipRng::derive(seed, Stream::Nodes, u64::from(index));
        let node_seed = u64::from(draw.next_u32()) << 32 | u64::from(draw.next_u32());
        let mesh_rng = GossipRng::derive(node_seed, Stream::Topology, 0);
        Member {
            id,
            node: LiveNode::new(identity.clone(), node_seed, config, now()),
            identity,
            mesh: Mesh::new(
                id,
                args.links
                    .map_or(LinkTarget::TAB, |k| LinkTarget::capped(k as usize)),
                mesh_rng,
            ),
            links: BTreeMap::new(),
            malformed_frames: 0,
            refused: None,
            code_query: args
                .join_code
                .as_deref()
                .map_or(String::new(), |c| format!("&code={}", signal::join_code(c))),
            status: Status::default(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn run(
        mut self,
        url: String,
        room: String,
        out: Arc<Output>,
        statuses: Arc<Mutex<Vec<Status>>>,
        index: usize,
        mut stop: watch::Receiver<bool>,
        mut commands: mpsc::Receiver<Command>,
        refusals: mpsc::UnboundedSender<String>,
    ) {
        let me = peer_hex(self.id);
        let mut backoff = Duration::from_secs(1);
        loop {
            // Relayed messages in binary batches: a third fewer bytes than base64 in JSON.
            let address = format!(
                "{url}?room={room}&peer={me}&relay=binary{}",
                self.code_query
            );
            if let Ok((ws, _)) = tokio_tungstenite::connect_async(address).await {
                backoff = Duration::from_secs(1);
                let ended = self
                    .connected(ws, &out, &statuses, index, &mut stop, &mut commands, &room)
                    .await;
                if ended {
                    if let Some(why) = self.refused.take() {
                        let _ = refusals.send(why);
                    }
                    return;
                }
                // Every link of a native peer is a relay link: they went with the connection
                // (the others dropped theirs when the server said this member left).
                let links: Vec<NodeId> = self.links.keys().copied().collect();
                for p in links {
                    self.unlink(p);
                }
            }
            self.status.connected = false;
            statuses.lock().expect("statuses")[index] = self.status.clone();
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.changed() => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One connection's life; true when the member is done (it left).
    #[allow(clippy::too_many_arguments)]
    async fn connected(
        &mut self,
        mut ws: Ws,
        out: &Output,
        statuses: &Mutex<Vec<Status>>,
        index: usize,
        stop: &mut watch::Receiver<bool>,
        commands: &mut mpsc::Receiver<Command>,
        room: &str,
    ) -> bool {
        let mut relay: Option<RelayOutbox> = None;
        // Until the welcome, the member sends nothing but its proof: the server takes the
        // proof as the first frame or closes the connection (4403), and the tick's first
        // round (at once) would otherwise send a links report, or link requests on a
        // reconnection, before the challenge has come.
        let mut welcomed = false;
        let mut tick = tokio::time::interval(TICK);
        let mut next_link = Instant::now();
        let mut next_report = Instant::now();
        let mut signals: Vec<(NodeId, Signal)> = Vec::new();
        let mut next_send = Instant::now();
        // Frames read since the tick or a command last ran (see the select's `biased`).
        let mut frames_in_a_row = 0;
        loop {
            tokio::select! {
                // Frames that have arrived first, then the tick: under load (a class of
                // members in one process, a slow machine) a tick taken while acks wait unread
                // judges probes that were answered, and suspects healthy members. At most
                // MAX_FRAMES_IN_A_ROW, so that a busy socket never holds the tick (its
                // probes, its links) or the stop back.
                biased;
                frame = ws.next(), if frames_in_a_row < MAX_FRAMES_IN_A_ROW => 'frame: {
                    frames_in_a_row += 1;
                    let Some(Ok(frame)) = frame else { return false };
                    let text = match frame {
                        Message::Close(Some(close)) => {
                            // Refused (a full room, a key not proven, a broken rule): trying
                            // again would be refused again, so the member gives up and says why.
                            self.refused = refusal(u16::from(close.code), close.reason.as_str());
                            return self.refused.is_some();
                        }
                        Message::Text(text) => text,
                        Message::Binary(bytes) => {
                            self.relayed(&bytes);
                            break 'frame;
                        }
                        _ => break 'frame,
                    };
                    let Ok(frame) = serde_json::from_str::<ToClient<Signal>>(text.as_str()) else { break 'frame };
                    match frame {
                        ToClient::Challenge { nonce } => {
                            // The server asks for proof of the key behind this member's id.
                            if !send(&mut ws, &prove::<Signal>(&self.identity, room, &nonce)).await {
                                return false;
                            }
                        }
                        ToClient::Welcome { peers, limits, .. } => {
                            welcomed = true;
                            self.status.connected = true;
                            relay = limits.map(|l| RelayOutbox::new(l, now().0));
                            for p in peers.iter().filter_map(|p| parse_peer(p)) {
                                self.mesh.heard(p);
                                self.node.handle_peer_here(now(), p);
                            }
                            if relay.is_none() {
                                out.say("this server has no relay (an older grapevine serve): native peers cannot talk");
                            }
                        }
                        ToClient::Roster { peers } => {
                            // Joins and leaves this connection missed (its queue was full).
                            let here: std::collections::BTreeSet<NodeId> = peers.iter().filter_map(|p| parse_peer(p)).collect();
                            for &p in &here {
                                self.mesh.heard(p);
                                self.node.handle_peer_here(now(), p);
                            }
                            let gone: Vec<NodeId> = self.mesh.iter_known().filter(|p| !here.contains(p)).collect();
                            for p in gone {
                                self.mesh.gone(p);
                                self.unlink(p);
                                self.node.handle_peer_gone(now(), p);
                            }
                        }
                        ToClient::PeerJoined { peer } => {
                            if let Some(p) = parse_peer(&peer) {
                                self.mesh.heard(p);
                                self.node.handle_peer_here(now(), p);
                            }
                        }
                        ToClient::PeerLeft { peer } => {
                            if let Some(p) = parse_peer(&peer) {
                                self.mesh.gone(p);
                                self.unlink(p);
                                self.node.handle_peer_gone(now(), p);
                            }
                        }
                        ToClient::Signal { from, data } => {
                            if let Some(p) = parse_peer(&from) {
                                self.on_signal(p, data, &mut signals);
                            }
                        }
                        ToClient::Relay { frames } => {
                            let t = now();
                            for f in frames {
                                let (Some(p), Some(bytes)) = (parse_peer(&f.peer), relay_decode(&f.data, MAX_MESSAGE_BYTES)) else {
                                    self.malformed_frames += 1;
                                    continue;
                                };
                                self.status.relay_bytes_received += bytes.len() as u64;
                                // From a member without a link, the node takes a goodbye
                                // only (and counts the rest as refused).
                                self.node.handle_bytes(t, p, &bytes);
                            }
                        }
                        ToClient::Conductor { peer } => {
                            if let Some(p) = parse_peer(&peer) {
                                self.node.handle_conductor(p);
                            }
                        }
                        ToClient::Order { order } => {
                            // Checked by the node itself (the conductor's signature, the
                            // number); refusals are counted in its summary.
                            if let Ok(order) = self.node.handle_order(now(), room, &order) {
                                if index == 0 {
                                    out.say(&order.command.describe());
                                }
                                if let OrderCommand::Remove { members } = &order.command {
                                    // Out for good: no link to them, whatever they send.
                                    let me = self.node.id();
                                    for &p in members.iter().filter(|&&p| p != me) {
                                        self.mesh.gone(p);
                                        self.unlink(p);
                                        self.node.handle_peer_gone(now(), p);
                                    }
                                }
                                let line = record::Line::order(&self.node, &order.command);
                                out.line(record_line(&line));
                            }
                        }
                        ToClient::Waiting => {
                            // A waiting room: the welcome comes on this connection once the
                            // conductor admits the member.
                            out.say(&format!("{} waits for the conductor to admit it", peer_hex(self.id)));
                        }
                        ToClient::Pong | ToClient::Error { .. } | ToClient::ConductorRefused { .. } | ToClient::JoinCode { .. } | ToClient::Addresses { .. } => {}
                    }
                },
                _ = tick.tick() => {
                    frames_in_a_row = 0;
                    let t = now();
                    if self.node.poll_timeout().is_some_and(|d| d <= t) {
                        self.node.handle_timeout(t);
                    }
                    if welcomed && Instant::now() >= next_link {
                        next_link = Instant::now() + LINK_EVERY;
                        self.plan_links(&mut signals);
                    }
                    if welcomed && Instant::now() >= next_report {
                        next_report = Instant::now() + LINKS_REPORT_EVERY;
                        let report = FromClient::<Signal>::Links { direct: 0, relay: self.links.len() as u32 };
                        if !send(&mut ws, &report).await {
                            return false;
                        }
                    }
                }
                Some(command) = commands.recv() => match command {
                    // (A command does not reset `frames_in_a_row`: only the tick does, so
                    // the tick always comes within MAX_FRAMES_IN_A_ROW frames.)
                    Command::StartRumor(text) => {
                        self.node.start_rumor(now(), text);
                        self.status.rumors_started += 1;
                    }
                },
                _ = stop.changed() => {
                    let t = now();
                    self.node.leave(t);
                    self.flush(&mut ws, relay.as_mut(), out, &mut signals, true)
                        .await;
                    if let Some(relay) = relay.as_mut() {
                        let (bye, to) = self.node.goodbye();
                        for member in to {
                            relay.push(t.0, member, &bye);
                        }
                        for batch in relay.drain() {
                            send_batch(&mut ws, batch).await;
                        }
                    }
                    // The closing handshake: wait for the server's close (reading what it
                    // still sends). Closing with unread data makes the kernel reset the
                    // connection, and a reset can discard what the server had not read yet:
                    // the goodbyes.
                    let _ = ws.close(None).await;
                    let _ = tokio::time::timeout(Duration::from_secs(2), async {
                        while let Some(Ok(_)) = ws.next().await {}
                    })
                    .await;
                    self.refresh_status(relay.as_ref());
                    self.status.connected = false;
                    statuses.lock().expect("statuses")[index] = self.status.clone();
                    return true;
                }
            }
            // Relayed messages leave once per tick (one frame, however many links: the
            // server's frame-rate cap holds); signals go at once.
            let on_tick = Instant::now() >= next_send;
            if on_tick {
                next_send = Instant::now() + TICK;
            }
            if !self
                .flush(&mut ws, relay.as_mut(), out, &mut signals, on_tick)
                .await
            {
                return false;
            }
            if on_tick {
                // The status (a scan of the membership) once a tick, not per frame.
                self.refresh_status(relay.as_ref());
                statuses.lock().expect("statuses")[index] = self.status.clone();
            }
        }
    }

    /// Brings the status the process reports up to date.
    fn refresh_status(&mut self, relay: Option<&RelayOutbox>) {
        self.status.members_alive = self
            .node
            .swim()
            .iter_members()
            .filter(|(_, v)| v.state == MemberState::Alive)
            .count();
        self.status.links = self.node.links().filter(|l| l.ready).count();
        let c = self.node.counters();
        (self.status.sent, self.status.received, self.status.dropped) =
            (c.sent, c.received, c.dropped);
        // The frames the driver could not read and the messages the node could not: the
        // larger of the two, as this was, hid the driver's.
        self.status.malformed = self.malformed_frames + c.malformed;
        self.status.unlinked = c.unlinked;
        self.status.refused = self.node.refusals().total();
        self.status.refused_by = self.node.refusals().iter().collect();
        if let Some(r) = relay {
            self.status.relay_bytes_sent = r.bytes;
            self.status.relay_dropped = r.dropped;
        }
    }

    /// Asks for the links the mesh is missing, and gives up links whose hello went
    /// unanswered.
    fn plan_links(&mut self, signals: &mut Vec<(NodeId, Signal)>) {
        let t = now();
        let ready: Vec<NodeId> = self
            .node
            .links()
            .filter(|l| l.ready)
            .map(|l| l.peer)
            .collect();
        let stale: Vec<NodeId> = self
            .links
            .iter()
            .filter(|(p, since)| !ready.contains(p) && since.elapsed() > HELLO_TIMEOUT)
            .map(|(&p, _)| p)
            .collect();
        for p in stale {
            self.unlink(p);
            self.mesh.busy(t, p);
        }
        for p in self.mesh.to_link(t) {
            signals.push((
                p,
                Signal::Link {
                    link: LinkSignal::Relay,
                },
            ));
            self.link(p);
        }
    }

    fn link(&mut self, peer: NodeId) {
        self.mesh.linking(peer);
        if self.links.insert(peer, Instant::now()).is_none() {
            self.node.handle_link_up(now(), peer);
            self.node.set_carrier(now(), peer, Carrier::Relay);
        }
    }

    fn unlink(&mut self, peer: NodeId) {
        self.mesh.unlinked_from(peer);
        if self.links.remove(&peer).is_some() {
            self.node.handle_link_down(now(), peer);
        }
    }

    /// A handshake signal: a request for a link (a tab's WebRTC offer, or "relay"), or a
    /// refusal. A native peer links over the relay only.
    fn on_signal(&mut self, from: NodeId, signal: Signal, signals: &mut Vec<(NodeId, Signal)>) {
        match signal {
            Signal::Link {
                link: LinkSignal::Busy,
            } => {
                self.unlink(from);
                self.mesh.busy(now(), from);
            }
            Signal::Link {
                link: LinkSignal::Relay,
            }
            | Signal::Description { .. } => {
                if self.links.contains_key(&from) {
                    if matches!(signal, Signal::Description { .. }) {
                        signals.push((
                            from,
                            Signal::Link {
                                link: LinkSignal::Relay,
                            },
                        ));
                    }
                    return;
                }
                match self.mesh.answer(from) {
                    Answer::Take => {}
                    Answer::Swap(victim) => {
                        self.unlink(victim);
                        signals.push((
                            victim,
                            Signal::Link {
                                link: LinkSignal::Busy,
                            },
                        ));
                    }
                    Answer::Busy => {
                        signals.push((
                            from,
                            Signal::Link {
                                link: LinkSignal::Busy,
                            },
                        ));
                        return;
                    }
                }
                self.link(from);
                if matches!(signal, Signal::Description { .. }) {
                    // A tab offered WebRTC: tell it to use the relay instead.
                    signals.push((
                        from,
                        Signal::Link {
                            link: LinkSignal::Relay,
                        },
                    ));
                }
            }
            Signal::Candidate { .. } => {}
        }
    }

    /// Sends what waits: signals, then (`send_relay`) the node's messages over the relay;
    /// reports events. The node's messages go into the relay's outbox as they come.
    async fn flush(
        &mut self,
        ws: &mut Ws,
        relay: Option<&mut RelayOutbox>,
        out: &Output,
        signals: &mut Vec<(NodeId, Signal)>,
        send_relay: bool,
    ) -> bool {
        for (to, data) in signals.drain(..) {
            let frame = FromClient::Signal {
                to: peer_hex(to),
                data,
            };
            if !send(ws, &frame).await {
                return false;
            }
        }
        let t = now();
        while let Some(event) = self.node.poll_event() {
            if let LiveEvent::HalfOpen { peer } = event {
                // It still holds a link this member dropped (the refusal was lost): again.
                let busy = FromClient::Signal {
                    to: peer_hex(peer),
                    data: Signal::Link {
                        link: LinkSignal::Busy,
                    },
                };
                if !send(ws, &busy).await {
                    return false;
                }
            }
            self.report(t, event, out);
        }
        let Some(relay) = relay else {
            while self.node.poll_transmit().is_some() {}
            return true;
        };
        while let Some((to, bytes)) = self.node.poll_transmit() {
            if self.links.contains_key(&to) {
                relay.push(t.0, to, &bytes);
            }
        }
        if send_relay {
            for batch in relay.drain() {
                if !send_batch(ws, batch).await {
                    return false;
                }
            }
        }
        true
    }

    /// A binary relay batch from the server: each message to the node, from its sender (a
    /// batch the server would not send is counted as malformed).
    fn relayed(&mut self, batch: &[u8]) {
        let Ok(messages) = read_relay_batch(batch) else {
            self.malformed_frames += 1;
            return;
        };
        let t = now();
        for (peer, bytes) in messages {
            self.status.relay_bytes_received += bytes.len() as u64;
            // From a member without a link, the node takes a goodbye only (and counts the
            // rest as unlinked).
            self.node.handle_bytes(t, peer, bytes);
        }
    }

    fn report(&mut self, t: Millis, event: LiveEvent, out: &Output) {
        let me = peer_hex(self.id);
        match event {
            LiveEvent::Rumor(RumorEvent::Learned { rumor, from }) => {
                let latency = t.0.saturating_sub(rumor.born_ms);
                if from != self.id {
                    self.status.rumor_arrivals += 1;
                    self.status.latency_ms_total += latency;
                }
                out.line(record_line(&record::Line::Rumor {
                    peer: me,
                    rumor: format!("{}:{}", peer_hex(rumor.id.origin), rumor.id.seq),
                    from: Some(peer_hex(from)),
                    hops: rumor.hops,
                    latency_ms: i64::try_from(latency).unwrap_or(i64::MAX),
                }));
            }
            LiveEvent::Swim(SwimEvent::Member { member, state, .. }) => {
                out.line(json!({
                    "event": "member",
                    "peer": me,
                    "member": peer_hex(member),
                    "status": state.name(),
                }));
            }
            LiveEvent::OtherVersion { peer, version } => {
                out.line(json!({
                    "event": "other-version",
                    "peer": me,
                    "member": peer_hex(peer),
                    "version": version,
                    "message": format!(
                        "member {} runs another version of Grapevine (wire {version}, this build {}): its messages are ignored",
                        peer_hex(peer),
                        grapevine_core::lab::wire::VERSION
                    ),
                }));
            }
            _ => {}
        }
    }
}

/// A line of the room's record ([`record::Line`]) as the JSON object it is written as.
fn record_line(line: &record::Line) -> serde_json::Value {
    serde_json::to_value(line).unwrap_or_default()
}

/// Sends one binary relay batch; false when the connection is gone.
async fn send_batch(ws: &mut Ws, batch: Vec<u8>) -> bool {
    ws.send(Message::Binary(batch.into())).await.is_ok()
}

/// Sends one frame; false when the connection is gone.
async fn send(ws: &mut Ws, frame: &FromClient<Signal>) -> bool {
    let text = serde_json::to_string(frame).expect("serialisable");
    ws.send(Message::Text(text.into())).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::Output;
    use std::io::Read;
    use std::time::Duration;

    /// A reader that takes nothing for a while holds up no member: lines wait in memory, in
    /// order, and are all there once it reads.
    #[test]
    fn a_slow_reader_does_not_hold_the_members_up() {
        let (mut reader, writer) = std::io::pipe().expect("a pipe");
        let out = Output::to(true, writer);
        // Far more than a pipe holds (64 KiB on Linux): with writes from the members' own
        // tasks, the first full pipe would block them until someone read.
        const LINES: usize = 20_000;
        let (done, finished) = std::sync::mpsc::channel();
        let writing = std::thread::spawn(move || {
            for i in 0..LINES {
                out.line(serde_json::json!({ "event": "test", "i": i }));
            }
            done.send(()).expect("the test waits");
            out
        });
        finished
            .recv_timeout(Duration::from_secs(30))
            .expect("writing lines blocked on a reader that has not read yet");
        let out = writing.join().expect("the writer");
        let reading = std::thread::spawn(move || {
            let mut text = String::new();
            reader.read_to_string(&mut text).expect("the lines");
            text
        });
        out.flush();
        drop(out);
        let text = reading.join().expect("the reader");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), LINES, "every line arrives");
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(*line, format!(r#"{{"event":"test","i":{i}}}"#), "in order");
        }
    }
}
