//! The conductor, as the server sees it: the token that makes a member the conductor of its
//! room, and a room's [`Conductor`]: whose key the server vouched for, and the orders it
//! relays from it (checked, numbered, and kept while they stand, for members that join
//! later). Telling the room (the vouch, each order) takes the rooms lock, so it is
//! [`super::rooms::vouch`] and [`super::rooms::relay_order`].
//!
//! The members check every order themselves ([`grapevine_core::lab::conduct`]); the server
//! checks them too, with the members' own check ([`Podium::admit`]), so that nothing they
//! would refuse reaches the room, and a student's forged order costs the room nothing.

use super::frames::{text_of, ToClient};
use grapevine_core::lab::conduct::{Again, Command, Podium};
use grapevine_core::lab::NodeId;
use grapevine_core::signal;
use std::collections::BTreeMap;

/// Wrong conductor tokens a connection may present before it is closed.
pub(super) const MAX_WRONG_TOKENS: u32 = 3;

/// Standing orders a room keeps at most (the settings, the split, the question, and one per
/// frozen member).
const MAX_STANDING_ORDERS: usize = 256;

/// Whether `given` is the conductor token, in time independent of where they differ.
pub(super) fn token_matches(given: &str, token: &str) -> bool {
    !token.is_empty()
        && given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// A random conductor token: 16 hex digits from the OS's generator (64 bits: a student
/// guessing it at the server's frame rate would need millennia, and is cut off after
/// [`MAX_WRONG_TOKENS`] tries per connection anyway); `None` without a generator.
pub(super) fn new_token() -> Option<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).ok()?;
    Some(signal::hex(&bytes))
}

/// Whether `token` may be this server's conductor token: a token the page takes
/// ([`signal::valid_token`]) of at least 8 characters.
pub(super) fn valid_token(token: &str) -> bool {
    token.len() >= 8 && signal::valid_token(token)
}

/// A room's conductor, as the server knows it: whom it vouched for, the order check (the
/// members' own, [`Podium::admit`], with the same order again a replay), and the standing
/// orders, told to members that join later.
pub(super) struct Conductor {
    /// The vouched conductor and the last order relayed.
    podium: Podium,
    /// The standing orders (the latest of each kind, by [`Command::standing`]): (number,
    /// signed text).
    standing: BTreeMap<String, (u64, String)>,
}

impl Default for Conductor {
    fn default() -> Self {
        Conductor {
            podium: Podium::new(Again::Replayed),
            standing: BTreeMap::new(),
        }
    }
}

impl Conductor {
    /// The member the server vouched for as the conductor (it presented the token).
    pub(super) fn peer(&self) -> Option<String> {
        self.podium.conductor().map(signal::peer_hex)
    }

    /// What a member joining now is told after its welcome: who conducts, then the standing
    /// orders, oldest first (nothing if nobody conducts).
    pub(super) fn frames(&self) -> Vec<String> {
        let Some(conductor) = self.peer() else {
            return Vec::new();
        };
        let mut frames = vec![text_of(&ToClient::Conductor { peer: conductor })];
        let mut standing: Vec<&(u64, String)> = self.standing.values().collect();
        standing.sort_by_key(|(seq, _)| *seq);
        frames.extend(standing.into_iter().map(|(_, order)| {
            text_of(&ToClient::Order {
                order: order.clone(),
            })
        }));
        frames
    }

    /// `id` conducts from now on. Another key than before: the standing orders were signed
    /// by the old one, and members would refuse them (a new conductor sets the room anew);
    /// its orders go on above the last relayed.
    pub(super) fn vouch(&mut self, id: NodeId) {
        if self.podium.conductor() != Some(id) {
            self.standing.clear();
            self.podium.vouch(id);
        }
    }

    /// Checks `order` from `peer` for `room`, and keeps it if it stands; its command (for
    /// what binds the server too), or why not.
    pub(super) fn order(&mut self, room: &str, peer: &str, order: &str) -> Result<Command, String> {
        let conducts =
            signal::parse_peer(peer).is_some_and(|id| self.podium.conductor() == Some(id));
        if !conducts {
            return Err("only the conductor gives orders".into());
        }
        let checked = self
            .podium
            .admit(room, order)
            .map_err(|why| format!("order refused: {why}"))?;
        if let Command::Remove { members } = &checked.command {
            if members.iter().any(|&m| Some(m) == self.podium.conductor()) {
                return Err("order refused: the conductor cannot remove itself".into());
            }
        }
        match (&checked.command, checked.command.standing()) {
            // A thaw ends a freeze: nothing stands for the member any more.
            (Command::Freeze { frozen: false, .. }, Some(kind)) => {
                self.standing.remove(&kind);
            }
            (_, Some(kind))
                if self.standing.len() < MAX_STANDING_ORDERS
                    || self.standing.contains_key(&kind) =>
            {
                self.standing.insert(kind, (checked.seq, order.to_string()));
            }
            _ => {}
        }
        Ok(checked.command)
    }
}
