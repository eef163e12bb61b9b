//! Whom this tab knows and links to: peers heard of (announced by a tab of this browser or
//! listed by the server) until they say goodbye, the server's roster, and the core's [`Mesh`]
//! rule for asking, answering and dropping links. How a link is made is [`super::links`].
//!
//! [`Mesh`]: grapevine_core::lab::mesh::Mesh

use super::js::now;
use super::state::{relay_peer, Live, Peer};
use super::transport::{Event, Via};
use grapevine_core::lab::mesh::Answer;
use grapevine_core::lab::NodeId;
use grapevine_core::signal::{peer_hex, LinkSignal, Signal};

/// How long after a tab's goodbye its links still open here are dropped, ms: it closes them
/// itself after its last messages (its leave among them), which closing first would lose.
const BYE_GRACE_MS: u32 = 1_000;

impl Live {
    /// The server's whole roster: the members in the room.
    pub(super) fn on_roster(&mut self, here: Vec<NodeId>) {
        // Joins and leaves this tab missed: the roster is the room.
        let gone: Vec<NodeId> = self
            .mesh
            .iter_tagged()
            .filter(|(p, via)| **via == Via::Server && !here.contains(p))
            .map(|(p, _)| p)
            .collect();
        for peer in here {
            self.discover(peer, Via::Server);
        }
        for peer in gone {
            self.on_gone(peer, false);
        }
    }

    /// `peer` said goodbye (`closing`: it closes its links itself) or its server connection
    /// closed.
    pub(super) fn on_gone(&mut self, peer: NodeId, closing: bool) {
        // Forgotten; a link still held keeps its place under the cap until it goes.
        self.mesh.gone(peer);
        if !closing {
            // The server saw its connection close: suspect it, in case no member
            // that stays has a link to it (alive after all, it refutes).
            self.node.handle_peer_gone(now(), peer);
        }
        if let (true, Some(p)) = (closing, self.peers.get(&peer)) {
            let generation = p.direct.as_ref().map(|d| d.generation());
            let sink = self.sink.clone();
            gloo_timers::callback::Timeout::new(BYE_GRACE_MS, move || {
                sink(Event::LinkClosed(
                    peer,
                    generation.unwrap_or(0),
                    "left (closed its tab)",
                ))
            })
            .forget();
        } else if !closing && self.peers.get(&peer).is_some_and(|p| !p.direct_open) {
            // Its relay went with its server connection; a direct link stays.
            self.drop_peer(peer, "left the room");
        }
        self.after_input();
    }

    /// A peer exists: the mesh decides whether to link.
    pub(super) fn discover(&mut self, peer: NodeId, via: Via) {
        // Not itself, and not a member the conductor removed (another tab of this browser
        // may still announce it).
        if peer == self.me || self.node.podium().removed.contains(&peer) {
            return;
        }
        // In the room (the server checked its key, or it is a tab of this browser): it may
        // be listed as a member.
        self.node.handle_peer_here(now(), peer);
        if let Some(met) = self.mesh.heard(peer) {
            // A peer met through this browser keeps that way (it needs no server).
            if via == Via::Tabs {
                *met = Via::Tabs;
            }
        }
    }

    /// Asks `peer` for a link: a WebRTC offer (the relay follows if it is slow), or the relay
    /// at once past the connection budget.
    pub(super) fn connect(&mut self, peer: NodeId) {
        let Some(&via) = self.mesh.tag(peer) else {
            return;
        };
        if self.peers.contains_key(&peer) {
            // Linked already (its server connection went and came back): the mesh counts it.
            self.mesh.linking(peer);
            return;
        }
        self.mesh.linking(peer);
        let direct = self.new_direct(peer);
        let offered = direct.is_some();
        if let Some(d) = &direct {
            d.offer();
        }
        self.peers.insert(
            peer,
            Peer {
                direct,
                offered,
                ..relay_peer(via)
            },
        );
        if !offered {
            self.relay_with(peer, true);
        }
    }

    /// Answers `from`'s request for a link: taken (perhaps in place of another), or refused.
    pub(super) fn accept(&mut self, from: NodeId, via: Via) -> bool {
        if self.node.podium().removed.contains(&from) {
            return false; // removed by the conductor: no link, not in place of another
        }
        self.discover(from, via);
        match self.mesh.answer(from) {
            Answer::Take => {}
            Answer::Swap(victim) => {
                let victim_via = self.peers.get(&victim).map_or(Via::Server, |p| p.via);
                self.signal(
                    victim,
                    victim_via,
                    Signal::Link {
                        link: LinkSignal::Busy,
                    },
                );
                self.drop_peer(victim, "made room for a newcomer");
            }
            Answer::Busy => {
                self.signal(
                    from,
                    via,
                    Signal::Link {
                        link: LinkSignal::Busy,
                    },
                );
                return false;
            }
        }
        self.mesh.linking(from);
        true
    }

    /// Drops the link to `peer`, whatever carries it: the mesh may ask someone else, the node
    /// learns the link is down.
    pub(super) fn drop_peer(&mut self, peer: NodeId, why: &str) {
        if let Some(p) = self.peers.remove(&peer) {
            if let Some(d) = p.direct {
                d.shut();
            }
            self.mesh.unlinked_from(peer);
            self.node.handle_link_down(now(), peer);
            if p.up {
                self.say(format!("link to {} closed: {why}", peer_hex(peer)));
            }
            self.after_input();
        }
    }
}
