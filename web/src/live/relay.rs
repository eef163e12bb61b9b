//! The server's relay as a [`Transport`]: for a pair whose WebRTC link does not form in time
//! (a network that isolates clients or blocks UDP), for native peers (`grapevine peer`, which
//! have no WebRTC), and for a page past its budget of peer connections. Frames go into the
//! signaling connection's [`RelayOutbox`] (batched, paced under the server's byte budget) and
//! leave with the loop's next tick; frames from peers arrive as [`super::Event::Relayed`].

use super::transport::Transport;
use grapevine_core::lab::NodeId;
use grapevine_core::signal::RelayOutbox;
use std::cell::RefCell;
use std::rc::Rc;

/// The signaling connection's relay outbox: `None` while not welcomed by a server with a
/// relay.
pub type SharedOutbox = Rc<RefCell<Option<RelayOutbox>>>;

/// One peer's frames through the relay.
pub struct RelayLink {
    peer: NodeId,
    outbox: SharedOutbox,
}

impl RelayLink {
    /// Frames to `peer` through `outbox`.
    pub fn new(peer: NodeId, outbox: SharedOutbox) -> RelayLink {
        RelayLink { peer, outbox }
    }
}

impl Transport for RelayLink {
    fn send(&self, bytes: &[u8]) -> bool {
        let now = js_sys::Date::now() as u64;
        match self.outbox.borrow_mut().as_mut() {
            Some(outbox) => outbox.push(now, self.peer, bytes),
            None => false,
        }
    }

    fn is_open(&self) -> bool {
        self.outbox.borrow().is_some()
    }

    fn close(&self) {}

    fn kind(&self) -> &'static str {
        "relay"
    }
}
