//! Live mode: this tab is a real node. It runs the core's [`LiveNode`] (rumors, SWIM, the
//! key-value map) and moves its bytes to other members: tabs and native peers.
//!
//! The node loop ([`Live`]) knows peers, links and the node, not what carries them: frames go
//! through a [`Transport`] (a WebRTC data channel, [`webrtc`], or the server's relay,
//! [`relay`]), handshakes through a [`Signaller`] (this browser's BroadcastChannel, [`tabs`],
//! or `grapevine serve`'s WebSocket, [`server`]), and every callback of theirs comes back as
//! one [`Event`] to [`Live::handle`] ([`transport`] has the seams).
//!
//! Whom to link to is the core's [`Mesh`] rule, the same as native peers': about 8 links, at
//! most 12, a request at the cap swapping out a random link, so late joiners hold as many
//! links as early ones. A link is tried directly first (WebRTC; either side may offer, and when
//! both do the smaller id's offer stands); if no data channel opens within 3 s the pair also
//! links over the relay (a network that blocks peer-to-peer traffic), and moves back to the
//! direct link when one opens later (tried again after 15 s, doubling). A page creates at most
//! [`MAX_PEER_CONNECTIONS`] RTCPeerConnections; past that, the relay. The tab's key (its id is
//! the key's digest) is kept in sessionStorage, so a reload or a reconnection (proving the key
//! to the server) is the same member. On `pagehide` the tab leaves gracefully: its leave to its links, a goodbye to every
//! member it knows over the relay, and every link closed, so peers learn of it at once.
//!
//! Files: this one only composes ([`start`] wires the transports, the signallers and the
//! timers into a [`Live`]). `state.rs` holds [`Live`] and each link's record, `js.rs` what
//! every file takes from JavaScript (values, the clock): leaves, which the behaviour files
//! import. `events.rs` is the loop (every [`Event`] to its handler, the tick, draining the
//! node); `peers.rs` whom the tab knows and links to (the [`Mesh`]); `links.rs` the links
//! themselves (direct, relay, the handshake and its timers); `signaling.rs` and `baton.rs`
//! the loop's side of the signaling server and of conducting; `api.rs` what the page reads
//! and asks; `session.rs` what a reload keeps. The page is [`view`] ([`room`],
//! [`conductor`]).

mod api;
mod baton;
pub mod conductor;
mod events;
mod js;
mod links;
mod peers;
pub mod relay;
pub mod room;
pub mod server;
mod session;
mod signaling;
mod state;
pub mod tabs;
pub mod transport;
pub mod view;
pub mod webrtc;

pub use api::LinkRow;
pub use links::MAX_PEER_CONNECTIONS;
pub use state::{Arrival, Live};
pub use transport::{Event, Frame, ServerState, Signaller, Sink, Transport, Via};

use crate::browser::random_u64;
use grapevine_core::auth::Identity;
use grapevine_core::lab::live::{LiveConfig, LiveNode};
use grapevine_core::lab::mesh::{LinkTarget, Mesh};
use grapevine_core::rng::{GossipRng, Stream};
use grapevine_core::signal::IceServer;
use js::{ice_js, now};
use server::Server;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

/// The loop's tick, ms: the node's deadlines are checked this often.
const TICK_MS: u32 = 50;

/// How long a tab that found its key in sessionStorage waits for another tab to say the id
/// is its own ([`tabs::claim`]) before joining: tabs of one browser answer within a few ms.
const CLAIM_WAIT_MS: u32 = 150;

/// The shared handle the page holds.
pub type Handle = Rc<RefCell<Live>>;

/// Starts live mode in `room`; `ice`: STUN / TURN URLs that override the server's (empty: the
/// server's, or none on loopback and LANs, which need none). A tab reloaded in the same room
/// keeps its id (sessionStorage), so it rejoins as the same member; a duplicated tab (which
/// copied that key) hears from its original that the id is taken, and draws its own.
pub fn start(
    room: String,
    config: LiveConfig,
    ice: &[String],
    conductor_token: Option<String>,
    code: Option<String>,
) -> Handle {
    let secure = [random_u64(), random_u64()];
    let weakly = || (js_sys::Math::random() * 9.0e15) as u64;
    let [seed, mesh_seed] = secure.map(|r| r.unwrap_or_else(weakly));
    let mut secret = [0u8; 32];
    let keyed = getrandom::fill(&mut secret).is_ok();
    if !keyed {
        for chunk in secret.chunks_mut(8) {
            chunk.copy_from_slice(&weakly().to_le_bytes());
        }
    }
    let kept = session::identity(&room);
    let identity = kept
        .clone()
        .unwrap_or_else(|| Identity::from_secret(secret));
    session::keep(&room, &identity);
    let me = identity.id();
    let ice: Vec<IceServer> = if ice.is_empty() {
        Vec::new()
    } else {
        vec![IceServer {
            urls: ice.to_vec(),
            username: None,
            credential: None,
        }]
    };
    let conductor_token = session::conductor(&room, conductor_token);
    let code = session::code(&room, code);
    let channel = room.clone();
    let handle = Rc::new_cyclic(|weak: &Weak<RefCell<Live>>| {
        let weak = weak.clone();
        let sink: Sink = Rc::new(move |event| {
            if let Some(live) = weak.upgrade() {
                if let Ok(mut l) = live.try_borrow_mut() {
                    l.handle(event);
                }
            }
        });
        let mut live = Live {
            me,
            room: room.clone(),
            node: LiveNode::new(identity.clone(), seed, config, now()),
            rumors: BTreeMap::new(),
            server: ServerState::Connecting,
            log: Vec::new(),
            orders: Vec::new(),
            conductor_token: conductor_token.clone(),
            baton: None,
            conductor_refused: None,
            join_code: None,
            door: Default::default(),
            displaced: false,
            refused: false,
            server_locked: None,
            identity: identity.clone(),
            mesh: mesh_of(me, mesh_seed),
            peers: BTreeMap::new(),
            next_plan: 0.0,
            next_report: 0.0,
            generation: 0,
            connections: 0,
            shutting_down: false,
            // Opened once the server admits this tab, or is not there ([`Live::open_tabs`]):
            // a tab the server refuses does not get in through this browser's other tabs.
            tabs: None,
            signaling: Server::new(room, conductor_token, code, identity, sink.clone()),
            ice_servers: ice_js(&ice),
            ice_fixed: !ice.is_empty(),
            sink: sink.clone(),
            _tick: None,
            _pagehide: None,
            claims: None,
        };
        let channels = web_sys::window()
            .is_some_and(|w| js_sys::Reflect::has(&w, &"BroadcastChannel".into()).unwrap_or(false));
        if !channels {
            live.say("this browser has no BroadcastChannel: same-browser tabs cannot meet".into());
        }
        if !keyed || secure.iter().any(Option::is_none) {
            live.say(
                "this browser gave no cryptographic randomness: this tab's key is guessable".into(),
            );
        }
        let tick = sink.clone();
        live._tick = Some(gloo_timers::callback::Interval::new(TICK_MS, move || {
            tick(Event::Tick)
        }));
        live._pagehide = web_sys::window().map(|w| {
            let sink = sink.clone();
            gloo_events::EventListener::new(&w, "pagehide", move |_| sink(Event::PageHide))
        });
        RefCell::new(live)
    });
    if kept.is_none() {
        let mut live = handle.borrow_mut();
        live.claims = tabs::answer_claims(&live.room, live.me);
        live.signaling.connect();
        drop(live);
        return handle;
    }
    // A key from sessionStorage: a reload, or a duplicated tab whose original still holds the
    // id. Asked before joining; a duplicate draws a new key and joins as a member of its own.
    let copied = Rc::new(std::cell::Cell::new(false));
    let question = tabs::claim(&channel, me, {
        let copied = copied.clone();
        move || copied.set(true)
    });
    let weak = Rc::downgrade(&handle);
    gloo_timers::callback::Timeout::new(CLAIM_WAIT_MS, move || {
        drop(question);
        let Some(live) = weak.upgrade() else { return };
        let Ok(mut live) = live.try_borrow_mut() else {
            return;
        };
        if copied.get() {
            let mut secret = [0u8; 32];
            if getrandom::fill(&mut secret).is_err() {
                for chunk in secret.chunks_mut(8) {
                    chunk.copy_from_slice(&weakly().to_le_bytes());
                }
            }
            let [seed, mesh_seed] = [random_u64(), random_u64()].map(|r| r.unwrap_or_else(weakly));
            live.rekey(Identity::from_secret(secret), seed, mesh_seed);
        }
        // The id is this tab's now (answering earlier would have answered its own claim).
        live.claims = tabs::answer_claims(&live.room, live.me);
        live.signaling.connect();
    })
    .forget();
    handle
}

/// Whom `me` links to: a tab's share of the mesh, its choices drawn from `seed`.
fn mesh_of(me: grapevine_core::lab::NodeId, seed: u64) -> Mesh<Via> {
    Mesh::new(
        me,
        LinkTarget::TAB,
        GossipRng::derive(seed, Stream::Topology, 0),
    )
}

impl Live {
    /// This tab is a copy of another that holds its id (a duplicated tab): it becomes a
    /// member of its own, with `identity` (kept for the tab), before it ever joined.
    fn rekey(&mut self, identity: Identity, seed: u64, mesh_seed: u64) {
        let me = identity.id();
        session::keep(&self.room, &identity);
        self.me = me;
        self.node = LiveNode::new(identity.clone(), seed, self.node.config(), now());
        self.mesh = mesh_of(me, mesh_seed);
        self.signaling.set_identity(identity.clone());
        self.identity = identity;
        if self.conductor_token.is_some() {
            // A copy of the conductor's tab: the original conducts; this one would take its
            // place with a new key (and drop the room's standing orders).
            self.displaced = true;
            self.say("this copy of the conductor's tab does not conduct: the original does".into());
        }
        self.say(
            "another tab of this browser holds this tab's id (a duplicated tab): joined with a new key"
                .into(),
        );
    }
}
