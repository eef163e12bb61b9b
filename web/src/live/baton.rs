//! The conductor side of the node loop: the server's word on who conducts the room, the
//! [`Baton`] this tab signs orders with when it does, and orders received (every member obeys
//! them, the conductor's own tab included). The conductor's panel is [`super::conductor`].

use super::js::now;
use super::state::{Live, ORDERS_KEPT};
use grapevine_core::lab::conduct::{Baton, Command};
use grapevine_core::lab::record;
use grapevine_core::lab::NodeId;
use grapevine_core::signal::peer_hex;

impl Live {
    /// The server vouches for `peer` as the room's conductor.
    pub(super) fn on_conductor(&mut self, peer: NodeId) {
        self.node.handle_conductor(peer);
        if peer == self.me {
            self.conductor_refused = None;
            if self.baton.is_none() {
                let after = self.node.podium().last();
                self.baton = Some(Baton::new(self.identity.clone(), self.room.clone(), after));
                self.say("the server vouched for this tab as the conductor".into());
            }
        } else {
            if self.baton.take().is_some() {
                self.displaced = true;
                self.say("another tab took the conductor's place".into());
            }
            self.say(format!("{} conducts the room", peer_hex(peer)));
        }
    }

    /// The server refused this tab's conductor token or order.
    pub(super) fn on_conductor_refused(&mut self, reason: String) {
        self.say(format!("the server refused: {reason}"));
        if self.baton.is_none() {
            self.conductor_refused = Some(reason);
        }
    }

    /// An order from the conductor, as signed (the node checks it).
    pub(super) fn on_order(&mut self, text: String) {
        let room = self.room.clone();
        match self.node.handle_order(now(), &room, &text) {
            Ok(order) => {
                if order.command == Command::Reset {
                    self.rumors.clear();
                }
                if let Command::Remove { members } = &order.command {
                    // Out for good: no link to them, whatever they send.
                    let me = self.me;
                    for &peer in members.iter().filter(|&&p| p != me) {
                        self.mesh.gone(peer);
                        self.drop_peer(peer, "the conductor removed it");
                    }
                }
                self.say(order.command.describe());
                if self.orders.len() == ORDERS_KEPT {
                    self.orders.remove(0);
                }
                self.orders
                    .push(record::Line::order(&self.node, &order.command));
            }
            Err("known") => {} // a standing order again, after a reconnection
            Err(why) => self.say(format!("refused an order ({why}): nothing changed")),
        }
        self.after_input();
    }

    /// Whether this tab conducts the room.
    pub fn conducts(&self) -> bool {
        self.baton.is_some()
    }

    /// Signs `command` and has the server give it to the room (this tab obeys it when the
    /// server sends it back, like every member). Only the conductor can.
    pub fn order(&mut self, command: &Command) {
        if let Some(baton) = self.baton.as_mut() {
            let text = baton.order(now().0, command);
            self.signaling.order(text);
        }
    }
}
