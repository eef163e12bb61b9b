//! The loop's face to the page: what the view reads (the links and what carries each, the
//! connections made) and what the user asks (a rumor, a key, a guess, new knobs). Each
//! command is one input to the node, drained at once.

use super::js::now;
use super::state::{Live, Peer};
use grapevine_core::lab::rumor::RumorConfig;
use grapevine_core::lab::NodeId;

/// What the page shows of one link.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkRow {
    /// The peer.
    pub peer: NodeId,
    /// The hello handshake completed.
    pub ready: bool,
    /// The last round-trip time, ms.
    pub rtt_ms: Option<u64>,
    /// `direct`, `turn` or `relay`.
    pub transport: &'static str,
}

impl Live {
    /// Connected peers whose handshake completed.
    pub fn ready_peers(&self) -> usize {
        self.node.links().filter(|l| l.ready).count()
    }

    /// The links, with what carries each.
    pub fn link_rows(&self) -> Vec<LinkRow> {
        self.node
            .links()
            .map(|l| LinkRow {
                peer: l.peer,
                ready: l.ready,
                rtt_ms: l.rtt_ms,
                transport: self
                    .peers
                    .get(&l.peer)
                    .and_then(Peer::kind)
                    .unwrap_or("direct"),
            })
            .collect()
    }

    /// RTCPeerConnections this page has created.
    pub fn connections_made(&self) -> u32 {
        self.connections
    }

    /// This tab's guess to the conductor's question, seconds.
    pub fn guess(&mut self, seconds: f64) {
        let question = self.node.podium().asked.unwrap_or(0);
        self.node.guess(now(), question, seconds);
        self.after_input();
    }

    /// Starts a rumor here.
    pub fn start_rumor(&mut self, text: String) {
        self.node.start_rumor(now(), text);
        self.after_input();
    }

    /// Writes a key here.
    pub fn set(&mut self, key: String, value: String) {
        self.node.set(now(), key, value);
        self.after_input();
    }

    /// New knobs: the rumors' fanout and gossip interval, the loss on send.
    pub fn configure(&mut self, fanout: u8, interval_ms: u32, loss: f64) {
        let mut config = self.node.config();
        config.rumor = RumorConfig {
            fanout,
            interval_ms,
            ..config.rumor
        };
        config.loss = loss;
        self.node.configure(now(), config);
        self.after_input();
    }
}
