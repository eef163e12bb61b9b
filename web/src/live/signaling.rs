//! The node loop's side of the signaling server: the connection's state (and the relay links
//! that go with it), the server's welcome (its ICE servers and relay limits), and reconnecting.
//! The WebSocket itself is [`super::server`].

use super::js::ice_js;
use super::session;
use super::state::Live;
use super::transport::ServerState;
use grapevine_core::lab::NodeId;
use grapevine_core::signal::{IceServer, Limits};

impl Live {
    /// The server connection's state changed.
    pub(super) fn on_server(&mut self, state: ServerState) {
        if self.shutting_down {
            return;
        }
        self.server = match state {
            ServerState::Offline(reason) => {
                // No server (or not yet): same-browser tabs still meet.
                self.open_tabs();
                self.signaling.closed(&reason)
            }
            ServerState::Full(reason) => self.signaling.full(&reason),
            ServerState::Locked(reason) => self.signaling.locked(&reason),
            ServerState::NeedsCode(reason) => {
                self.signaling.stop();
                self.say(format!("the server wants the room's join code: {reason}"));
                ServerState::NeedsCode(reason)
            }
            ServerState::Removed(reason) => {
                self.signaling.stop();
                self.say(format!("removed from the room: {reason}"));
                ServerState::Removed(reason)
            }
            ServerState::Waiting => {
                self.say("waiting at the door: the conductor lets this tab in".into());
                ServerState::Waiting
            }
            ServerState::Taken(reason) => {
                session::forget(&self.room);
                self.claims = None;
                self.signaling.stop();
                // This id is another tab's now: this one no longer answers for it.
                self.leave_tabs();
                self.say("another tab joined with this tab's key (a duplicated tab?): reload this one to join with a new key".into());
                ServerState::Taken(reason)
            }
            other => other,
        };
        if matches!(
            self.server,
            ServerState::NeedsCode(_)
                | ServerState::Locked(_)
                | ServerState::Removed(_)
                | ServerState::Waiting
        ) {
            // Not in the room: the server refused this tab (no code, locked, removed), so it
            // does not stay in through the tabs of this browser either. It leaves their
            // channel and every link; a welcome brings it back.
            self.leave_tabs();
            let linked: Vec<NodeId> = self.peers.keys().copied().collect();
            for peer in linked {
                self.mesh.gone(peer);
                self.drop_peer(peer, "this tab is not in the room");
            }
        } else if !matches!(
            self.server,
            ServerState::Connected | ServerState::Connecting
        ) {
            // Relay links went with the connection (the others dropped theirs when
            // the server said this member left); direct links stay.
            let relayed: Vec<NodeId> = self
                .peers
                .iter()
                .filter(|(_, p)| !p.direct_open && p.relay.is_some())
                .map(|(&id, _)| id)
                .collect();
            for peer in relayed {
                self.drop_peer(peer, "the server connection closed");
            }
        }
    }

    /// The server welcomed this tab: its ICE servers, and its limits (a server with a relay).
    pub(super) fn on_welcome(&mut self, ice: Vec<IceServer>, limits: Option<Limits>) {
        self.server = ServerState::Connected;
        self.refused = false;
        self.open_tabs();
        if limits.is_none() {
            self.say("this server has no relay: only direct links".into());
        }
        self.signaling.welcomed(limits);
        if !self.ice_fixed {
            self.ice_servers = ice_js(&ice);
        }
        if let Some(token) = self.conductor_token.as_ref().filter(|_| !self.displaced) {
            self.signaling.conduct(token);
        }
    }

    /// The student typed the room's join code: kept for this tab, and the server tried
    /// again with it at once.
    pub fn enter_code(&mut self, code: String) {
        session::code(&self.room, Some(code.clone()));
        self.signaling.set_code(code);
        self.on_reconnect();
    }

    /// The server told the conductor's tab the room's join code.
    pub(super) fn on_join_code(&mut self, code: String, rotates_in_ms: Option<u64>) {
        let until = rotates_in_ms.map(|ms| super::js::now().0 + ms);
        self.join_code = Some((code, until));
    }

    /// Leaves this browser's other tabs (their channel), and stays out until a welcome.
    fn leave_tabs(&mut self) {
        self.refused = true;
        if let Some(tabs) = self.tabs.take() {
            tabs.leave();
        }
    }

    /// Joins this browser's other tabs in the room (their BroadcastChannel), if not yet: once
    /// the server welcomed this tab, or when there is no server to ask.
    fn open_tabs(&mut self) {
        if self.tabs.is_none() && !self.refused {
            self.tabs = super::tabs::Tabs::open(&self.room, self.me, self.sink.clone());
        }
    }

    /// Time to connect to the server again (unless the page is going away).
    pub(super) fn on_reconnect(&mut self) {
        if !self.shutting_down {
            self.server = ServerState::Connecting;
            self.signaling.connect();
        }
    }
}
