//! The links themselves: each linked peer's [`Peer`] record (kept in [`super::state`]: a
//! direct WebRTC link, the server's relay, or both while a direct link is tried), the
//! handshake's signals, a direct link opening or closing, and the timers that move a late pair onto the relay, give up a
//! stale attempt and retry a direct link later. Which peers to link to is [`super::peers`].

use super::js::now;
use super::relay::RelayLink;
use super::state::{relay_peer, Live, Peer};
use super::transport::{Signaller, Via};
use super::webrtc;
use grapevine_core::lab::room::Carrier;
use grapevine_core::lab::{Millis, NodeId};
use grapevine_core::signal::{peer_hex, LinkSignal, Signal};

/// How long a direct link may take to open before the pair also links over the relay, ms.
const RELAY_AFTER_MS: f64 = 3_000.0;
/// How long a direct link may take to open before the attempt is given up, ms.
const HANDSHAKE_TIMEOUT_MS: f64 = 10_000.0;
/// How long a pair on the relay waits before trying a direct link again, ms (the network may
/// allow it now); the wait doubles with each failed try, up to [`DIRECT_RETRY_MAX_MS`], so
/// the budget of connections lasts.
const DIRECT_RETRY_MS: f64 = 15_000.0;
/// The longest wait between direct tries, ms.
const DIRECT_RETRY_MAX_MS: f64 = 300_000.0;
/// RTCPeerConnections a page creates at most in its lifetime: Chromium refuses more than
/// 500; past this, links go over the relay.
pub const MAX_PEER_CONNECTIONS: u32 = 400;

impl Live {
    /// The peer, if its direct link is of this generation.
    pub(super) fn direct(&self, peer: NodeId, generation: u64) -> Option<&Peer> {
        self.peers.get(&peer).filter(|p| {
            p.direct
                .as_ref()
                .is_some_and(|d| d.generation() == generation)
        })
    }

    /// The signaller for peers met `via` (none without a BroadcastChannel).
    fn signaller(&self, via: Via) -> Option<&dyn Signaller> {
        match via {
            Via::Tabs => self.tabs.as_ref().map(|t| t as &dyn Signaller),
            Via::Server => Some(&self.signaling),
        }
    }

    /// Sends `signal` to `peer` through the signaller it was met through.
    pub(super) fn signal(&self, peer: NodeId, via: Via, signal: Signal) {
        if let Some(s) = self.signaller(via) {
            s.signal(peer, &signal);
        }
    }

    /// A link's handshake wants `signal` sent to `peer`, by the signaller it was met through.
    pub(super) fn on_outgoing(&mut self, peer: NodeId, generation: u64, signal: Signal) {
        let via = self.direct(peer, generation).map(|p| p.via);
        if let Some(signaller) = via.and_then(|via| self.signaller(via)) {
            signaller.signal(peer, &signal);
        }
    }

    /// A direct link opened (the relay, if the pair was on it, gives way).
    pub(super) fn on_link_open(&mut self, peer: NodeId, generation: u64) {
        if let Some(p) = self.peers.get_mut(&peer).filter(|p| {
            p.direct
                .as_ref()
                .is_some_and(|d| d.generation() == generation)
        }) {
            p.direct_open = true;
            let moved = p.relay.is_some();
            self.say(format!(
                "direct link to {} open{}",
                peer_hex(peer),
                if moved { " (moved off the relay)" } else { "" }
            ));
            self.up(peer);
            self.tell_carrier(peer);
            self.flush();
        }
    }

    /// A link failed or closed: the relay carries on if the pair is on it, else the peer is
    /// dropped.
    pub(super) fn on_link_closed(&mut self, peer: NodeId, generation: u64, why: &'static str) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let this_one = p
            .direct
            .as_ref()
            .is_some_and(|d| d.generation() == generation);
        if p.relay.is_some() && this_one && why != "left (closed its tab)" {
            // The direct link failed: the relay carries on.
            if let Some(d) = p.direct.take() {
                d.shut();
            }
            p.direct_open = false;
            self.say(format!(
                "direct link to {} closed ({why}): on the relay",
                peer_hex(peer)
            ));
            self.tell_carrier(peer);
        } else if this_one || p.direct.is_none() {
            self.drop_peer(peer, why);
        }
    }

    /// A new WebRTC attempt with `peer`, within the page's budget of connections.
    pub(super) fn new_direct(&mut self, peer: NodeId) -> Option<webrtc::Link> {
        if self.connections >= MAX_PEER_CONNECTIONS {
            return None;
        }
        self.generation += 1;
        self.connections += 1;
        if self.connections == MAX_PEER_CONNECTIONS {
            self.say(format!(
                "{MAX_PEER_CONNECTIONS} WebRTC connections made in this page: new links go over the relay"
            ));
        }
        webrtc::Link::new(peer, self.generation, &self.ice_servers, self.sink.clone())
    }

    /// The node learns the link to `peer` is up (once).
    fn up(&mut self, peer: NodeId) {
        if let Some(p) = self.peers.get_mut(&peer).filter(|p| !p.up) {
            p.up = true;
            self.node.handle_link_up(now(), peer);
            self.tell_carrier(peer);
        }
    }

    /// The node learns what carries the link to `peer` now (for the room's picture).
    fn tell_carrier(&mut self, peer: NodeId) {
        let carrier = self
            .peers
            .get(&peer)
            .and_then(Peer::kind)
            .and_then(Carrier::from_name);
        if let Some(c) = carrier {
            self.node.set_carrier(now(), peer, c);
        }
    }

    /// Puts the pair on the relay too (the direct link is late, failed, or not to be): told
    /// to the peer, and the link is up for the node.
    pub(super) fn relay_with(&mut self, peer: NodeId, tell: bool) {
        if !self.signaling.relays() {
            return;
        }
        let outbox = self.signaling.outbox();
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        if p.relay.is_none() {
            p.relay = Some(RelayLink::new(peer, outbox));
            if tell {
                self.signal(
                    peer,
                    Via::Server,
                    Signal::Link {
                        link: LinkSignal::Relay,
                    },
                );
            }
            self.say(format!("link to {} over the relay", peer_hex(peer)));
        }
        self.up(peer);
    }

    /// A handshake signal from `from`. Malformed ones never get here (they do not decode);
    /// out-of-turn ones are ignored, and the handshake then times out.
    pub(super) fn on_signal(&mut self, from: NodeId, signal: Signal, via: Via) {
        match signal {
            Signal::Description { sdp } => {
                if let Some(p) = self.peers.get_mut(&from) {
                    p.heard_sdp = true;
                }
                if sdp.kind == grapevine_core::signal::DescriptionKind::Offer {
                    if let Some(p) = self.peers.get(&from) {
                        if p.direct_open {
                            return; // already linked directly
                        }
                        if p.direct.is_some() && p.offered && self.me < from {
                            return; // both offered: the smaller id's offer stands
                        }
                    } else if !self.accept(from, via) {
                        return;
                    }
                    let Some(direct) = self.new_direct(from) else {
                        // Past the budget: the relay instead.
                        self.peers.entry(from).or_insert_with(|| relay_peer(via));
                        self.relay_with(from, true);
                        return;
                    };
                    let p = self.peers.entry(from).or_insert_with(|| relay_peer(via));
                    if let Some(old) = p.direct.replace(direct) {
                        old.shut();
                    }
                    p.direct_open = false;
                    p.offered = false;
                    p.relay_only = false;
                    p.attempt_at = js_sys::Date::now();
                }
                if let Some(d) = self.peers.get(&from).and_then(|p| p.direct.as_ref()) {
                    d.handle_description(sdp);
                }
            }
            Signal::Candidate { candidate } => {
                let Some(d) = self.peers.get(&from).and_then(|p| p.direct.as_ref()) else {
                    return;
                };
                if !d.handle_candidate(candidate) {
                    self.drop_peer(from, "too many ICE candidates");
                }
            }
            Signal::Link {
                link: LinkSignal::Relay,
            } => {
                if let Some(p) = self.peers.get_mut(&from) {
                    // Our offer answered with "relay" and no description: a native peer,
                    // which never does WebRTC (no retries). A browser that answered and then
                    // found the direct link late says "relay" too: its attempt carries on.
                    if p.offered && !p.direct_open && !p.heard_sdp {
                        p.relay_only = true;
                        if let Some(d) = p.direct.take() {
                            d.shut();
                        }
                    }
                } else if !self.accept(from, via) {
                    return;
                } else {
                    // Asked for the relay before any direct try: a native peer, or a page
                    // past its connection budget. No direct tries.
                    let mut p = relay_peer(via);
                    p.relay_only = true;
                    self.peers.insert(from, p);
                }
                self.relay_with(from, false);
                self.after_input();
            }
            Signal::Link {
                link: LinkSignal::Busy,
            } => {
                if self.peers.contains_key(&from) {
                    self.drop_peer(from, "it is at its link cap");
                }
                self.mesh.busy(now(), from);
            }
        }
    }

    /// Late direct links go on the relay, stale attempts are given up, pairs on the relay try
    /// a direct link again, and peers with no link at all are dropped.
    pub(super) fn tend_links(&mut self, t: Millis, wall: f64) {
        let mut late = Vec::new();
        let mut stale = Vec::new();
        let mut retry = Vec::new();
        let mut dead = Vec::new();
        for (&id, p) in &self.peers {
            let waited = wall - p.attempt_at;
            if p.direct.is_some() && !p.direct_open {
                if waited > HANDSHAKE_TIMEOUT_MS {
                    stale.push(id);
                } else if waited > RELAY_AFTER_MS && p.relay.is_none() {
                    late.push(id);
                }
            } else if p.direct.is_none()
                && p.relay.is_some()
                && !p.relay_only
                && p.via == Via::Server
                && self.me < id
                && waited
                    > (DIRECT_RETRY_MS * f64::from(1u32 << p.retries.min(10)))
                        .min(DIRECT_RETRY_MAX_MS)
            {
                retry.push(id);
            }
            if p.direct.is_none() && p.relay.is_none() && waited > HANDSHAKE_TIMEOUT_MS {
                dead.push(id);
            }
        }
        for peer in late {
            self.relay_with(peer, true);
        }
        for peer in stale {
            let on_relay = self.peers.get(&peer).is_some_and(|p| p.relay.is_some());
            if on_relay {
                if let Some(d) = self.peers.get_mut(&peer).and_then(|p| p.direct.take()) {
                    d.shut();
                }
            } else {
                self.drop_peer(peer, "handshake timed out");
                self.mesh.busy(t, peer);
            }
        }
        for peer in dead {
            self.drop_peer(peer, "no link formed");
        }
        for peer in retry {
            if let Some(direct) = self.new_direct(peer) {
                direct.offer();
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.direct = Some(direct);
                    p.offered = true;
                    p.attempt_at = wall;
                    p.retries += 1;
                }
            } else if let Some(p) = self.peers.get_mut(&peer) {
                p.attempt_at = wall;
            }
        }
    }
}
