//! The conductor: one member of a live room (the teacher's tab) steers the whole room. It
//! sets the rumor knobs for everyone, starts a rumor at any member, splits the room into
//! groups that cannot hear each other, freezes a member, resets the room, and asks for
//! guesses.
//!
//! Authority is built on the member identities ([`crate::auth`]): the signaling server
//! checks the conductor token a tab presents and *vouches* to the room for that tab's id
//! (whose key the server checked at join). An order is a [`Command`] with a number, signed by
//! the conductor's key over the room's name and the number ([`Statement::Order`]); every
//! member checks the signature against the vouched id and takes an order only if its number
//! is above the last one taken ([`Podium::take`]). The server relays orders only from the
//! conductor's connection and checks them too, with the same check ([`Podium::admit`], where
//! the same order again is a replay: [`Again`]), but a member does not rely on that: a
//! forged, altered, replayed or other-room order is refused by the member itself.
//!
//! Orders travel through the signaling server, not through gossip: a split room must still
//! hear the order that heals it, and a frozen member the one that thaws it.

use crate::auth::{Identity, Proof, Statement};
use crate::lab::rumor::MAX_PAYLOAD_BYTES;
use crate::lab::NodeId;
use crate::rules::{Interest, StopRule, MAX_FANOUT};
use crate::signal::{relay_decode, relay_encode};
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Most groups a room can be split into.
pub const MAX_GROUPS: u8 = 3;
/// Most members a split names (the rest are in group 0).
pub const MAX_SPLIT_MEMBERS: usize = 1_024;
/// The rumor intervals an order may set, ms (the page's choices).
pub const INTERVALS_MS: [u32; 5] = [100, 250, 500, 1_000, 2_000];
/// The largest encoded order, bytes (a split of [`MAX_SPLIT_MEMBERS`] is about 10 KiB).
pub const MAX_ORDER_BYTES: usize = 16 * 1024;

/// The room-wide rumor knobs. A live node's config converts to and from them
/// ([`Settings::of`], [`Settings::applied_to`]) in [`crate::lab::live`], not here: an order
/// knows nothing of the node that obeys it (this module does not depend on that one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Peers pushed to per interval, `1..=16`.
    pub fanout: u8,
    /// The rumor interval, ms, one of [`INTERVALS_MS`].
    pub interval_ms: u32,
    /// Loss on send, percent, `0..=100`.
    pub loss_percent: u8,
    /// The stop rule, by its index in [`StopRule::ALL`].
    pub stop: u8,
    /// The stop rule's `k`, `1..=255`.
    pub k: u8,
}

impl Settings {
    /// The stop rule with its parameter.
    pub fn interest(&self) -> Interest {
        let rule = StopRule::ALL
            .get(usize::from(self.stop))
            .copied()
            .unwrap_or(StopRule::Never);
        Interest {
            rule,
            k: self.k.max(1),
            ..Interest::FOREVER
        }
    }

    fn validate(&self) -> Result<(), &'static str> {
        if self.fanout == 0 || self.fanout > 16 || self.fanout > MAX_FANOUT {
            return Err("fanout out of range");
        }
        if !INTERVALS_MS.contains(&self.interval_ms) {
            return Err("interval not offered");
        }
        if self.loss_percent > 100 {
            return Err("loss over 100 %");
        }
        if usize::from(self.stop) >= StopRule::ALL.len() || self.k == 0 {
            return Err("no such stop rule");
        }
        Ok(())
    }
}

/// What the conductor can ask of the room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Every member takes these knobs (and their own are locked to them).
    Settings(Settings),
    /// Member `at` starts a rumor saying `text` (signed by `at`, as any rumor).
    Rumor {
        /// Who starts it.
        at: NodeId,
        /// What it says.
        text: String,
    },
    /// The room in `groups` groups (1: whole again): members drop every message from, and
    /// to, members of other groups. `members` names each member's group; a member not named
    /// is in group 0.
    Split {
        /// How many groups, `1..=MAX_GROUPS`.
        groups: u8,
        /// Members and their groups.
        members: Vec<(NodeId, u8)>,
    },
    /// `member` stops (frozen: it neither sends nor answers, as if crashed) or goes on.
    Freeze {
        /// Whom.
        member: NodeId,
        /// Frozen or thawed.
        frozen: bool,
    },
    /// Every member forgets the room's rumors and zeroes its counters.
    Reset,
    /// "How many seconds until everyone knows the next rumor?": members may guess.
    Ask,
    /// These members are out for the rest of the session: the server closes their
    /// connections and refuses their keys, and every member drops them (their messages, its
    /// links to them, their place in the room's picture).
    Remove {
        /// Whom, at most [`MAX_SPLIT_MEMBERS`].
        members: Vec<NodeId>,
    },
    /// The room admits no new members (locked) or admits them again. Members already in it
    /// may come back (a reload, a phone that slept).
    Lock {
        /// Locked or open.
        locked: bool,
    },
    /// Newcomers wait at the door until the conductor admits them (on), or join at once
    /// (off). The server holds them; members already admitted come back without waiting.
    Wait {
        /// Waiting room on or off.
        on: bool,
    },
    /// These newcomers, waiting at the door, are in: the server admits their keys for the
    /// session.
    Admit {
        /// Whom, at most [`MAX_SPLIT_MEMBERS`].
        members: Vec<NodeId>,
    },
}

impl Command {
    /// Checks every range (a decoded order may be hostile).
    pub fn validate(&self) -> Result<(), &'static str> {
        match self {
            Command::Settings(s) => s.validate(),
            Command::Rumor { text, .. } if text.len() > MAX_PAYLOAD_BYTES => {
                Err("rumor text too long")
            }
            Command::Split { groups, members } => {
                if *groups == 0 || *groups > MAX_GROUPS {
                    return Err("groups out of range");
                }
                if members.len() > MAX_SPLIT_MEMBERS {
                    return Err("too many members in a split");
                }
                if members.iter().any(|&(_, g)| g >= *groups) {
                    return Err("a member in a group that does not exist");
                }
                Ok(())
            }
            Command::Remove { members } if members.is_empty() => Err("nobody to remove"),
            Command::Remove { members } if members.len() > MAX_SPLIT_MEMBERS => {
                Err("too many members to remove")
            }
            Command::Admit { members } if members.is_empty() => Err("nobody to admit"),
            Command::Admit { members } if members.len() > MAX_SPLIT_MEMBERS => {
                Err("too many members to admit")
            }
            _ => Ok(()),
        }
    }

    /// What the room's log says of it.
    pub fn describe(&self) -> String {
        use alloc::format;
        match self {
            Command::Settings(s) => format!(
                "the conductor set fanout {}, interval {} ms, loss {} %, stop rule {}",
                s.fanout,
                s.interval_ms,
                s.loss_percent,
                s.interest().rule.name()
            ),
            Command::Rumor { at, .. } => {
                format!(
                    "the conductor started a rumor at {}",
                    crate::signal::peer_hex(*at)
                )
            }
            Command::Split { groups: 1, .. } => "the conductor healed the room".into(),
            Command::Split { groups, .. } => {
                format!("the conductor split the room into {groups} groups")
            }
            Command::Freeze { member, frozen } => format!(
                "the conductor {} {}",
                if *frozen { "froze" } else { "thawed" },
                crate::signal::peer_hex(*member)
            ),
            Command::Reset => "the conductor reset the room's rumors and counters".into(),
            Command::Ask => "the conductor asks: how many seconds until everyone knows?".into(),
            Command::Remove { members } => match members.as_slice() {
                [one] => format!(
                    "the conductor removed {} from the room",
                    crate::signal::peer_hex(*one)
                ),
                many => format!("the conductor removed {} members from the room", many.len()),
            },
            Command::Lock { locked: true } => {
                "the conductor locked the room: no new members".into()
            }
            Command::Lock { locked: false } => {
                "the conductor unlocked the room: newcomers may join".into()
            }
            Command::Wait { on: true } => {
                "the conductor opened a waiting room: newcomers wait to be admitted".into()
            }
            Command::Wait { on: false } => {
                "the conductor closed the waiting room: newcomers join at once".into()
            }
            Command::Admit { members } => match members.as_slice() {
                [one] => format!(
                    "the conductor admitted {} to the room",
                    crate::signal::peer_hex(*one)
                ),
                many => format!("the conductor admitted {} members", many.len()),
            },
        }
    }

    /// Which standing order it replaces, for a server that keeps the latest of each to tell
    /// members who join later (`None`: a one-off, not kept).
    pub fn standing(&self) -> Option<String> {
        match self {
            Command::Settings(_) => Some("settings".into()),
            Command::Split { .. } => Some("split".into()),
            Command::Ask => Some("ask".into()),
            Command::Freeze { member, .. } => Some(alloc::format!(
                "freeze.{}",
                crate::signal::peer_hex(*member)
            )),
            Command::Lock { .. } => Some("lock".into()),
            Command::Wait { .. } => Some("wait".into()),
            // A removal is the server's to hold (it refuses the keys from then on): a member
            // joining later never meets a removed one, and removals do not crowd out the
            // standing orders that matter to it.
            Command::Remove { .. }
            | Command::Admit { .. }
            | Command::Rumor { .. }
            | Command::Reset => None,
        }
    }
}

/// An order as it travels: its number, the command's bytes and the conductor's proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Signed {
    seq: u64,
    command: Vec<u8>,
    proof: Proof,
}

/// An order taken: its number and command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    /// Its number (strictly increasing per room).
    pub seq: u64,
    /// What it asks.
    pub command: Command,
}

/// Signs `command` as order `seq` of `room`: the text a `order` frame carries (base64).
pub fn sign_order(identity: &Identity, room: &str, seq: u64, command: &Command) -> String {
    let bytes = postcard::to_allocvec(command).unwrap_or_default();
    let proof = identity.sign(&Statement::Order {
        room,
        seq,
        command: &bytes,
    });
    let signed = Signed {
        seq,
        command: bytes,
        proof,
    };
    relay_encode(&postcard::to_allocvec(&signed).unwrap_or_default())
}

/// Checks an order's text: it decodes, `conductor` signed it for `room`, and its command is
/// in range. The reason otherwise (a name for logs and counters).
pub fn check_order(room: &str, conductor: NodeId, text: &str) -> Result<Order, &'static str> {
    let bytes = relay_decode(text, MAX_ORDER_BYTES).ok_or("malformed")?;
    let signed: Signed = postcard::from_bytes(&bytes).map_err(|_| "malformed")?;
    let command: Command = postcard::from_bytes(&signed.command).map_err(|_| "malformed")?;
    command.validate()?;
    signed
        .proof
        .verify(
            conductor,
            &Statement::Order {
                room,
                seq: signed.seq,
                command: &signed.command,
            },
        )
        .map_err(|e| e.name())?;
    Ok(Order {
        seq: signed.seq,
        command,
    })
}

/// The conductor's side: numbers and signs its orders.
#[derive(Clone, Debug)]
pub struct Baton {
    identity: Identity,
    room: String,
    last: u64,
}

impl Baton {
    /// The conductor of `room`, holding `identity`'s key (the one the server vouched for);
    /// its orders are numbered above `after` (the last order the room took: a new conductor
    /// whose clock is behind the previous one's is not refused as a replay).
    pub fn new(identity: Identity, room: String, after: u64) -> Baton {
        Baton {
            identity,
            room,
            last: after,
        }
    }

    /// The signed text of `command` as the next order. Its number is the clock, ms (or one
    /// above the last, if the clock stood still): a conductor that reloads its tab goes on
    /// above its earlier orders without remembering them.
    pub fn order(&mut self, now_ms: u64, command: &Command) -> String {
        self.last = now_ms.max(self.last + 1);
        sign_order(&self.identity, &self.room, self.last, command)
    }
}

/// What the same order again is to whoever checks it ([`Podium::admit`]): the one thing in
/// which a member's check and the server's differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Again {
    /// Known (`known`), not refused: the server tells a member that reconnects the standing
    /// orders again. A member's podium.
    #[default]
    Known,
    /// A replay (`replayed`), refused: the server relays each order once, so the conductor's
    /// connection has no reason to send one twice. The server's podium.
    Replayed,
}

/// The order check, and what the orders hold the room to. A member's side: whom the server
/// vouched for as the conductor, the last order taken, and what the conductor's standing
/// orders hold the room to (for the page: locked knobs, groups, frozen members, an open
/// question). The server keeps one per room too ([`Again::Replayed`]), for the check alone
/// ([`Podium::admit`]): members and server refuse the same orders for the same reasons.
#[derive(Clone, Debug, Default)]
pub struct Podium {
    conductor: Option<NodeId>,
    last: u64,
    /// What the same order again is.
    again: Again,
    /// The numbers of the last orders taken: the same order again (the server tells a
    /// member that reconnects the standing orders) is known, not a replay. (Empty with
    /// [`Again::Replayed`].)
    taken: alloc::collections::VecDeque<u64>,
    /// The knobs the conductor set (the member's own are locked to them).
    pub settings: Option<Settings>,
    /// Each member's group while the room is split (empty: one room).
    pub groups: BTreeMap<NodeId, u8>,
    /// Groups while split (1: one room).
    pub group_count: u8,
    /// Members the conductor froze.
    pub frozen: BTreeSet<NodeId>,
    /// The number of the conductor's open question, if it asked one.
    pub asked: Option<u64>,
    /// Members the conductor removed (for the rest of the session).
    pub removed: BTreeSet<NodeId>,
    /// The conductor locked the room: no new members.
    pub locked: bool,
}

impl Podium {
    /// A podium whose check takes the same order again as `again` says (a member's is
    /// [`Podium::default`], [`Again::Known`]).
    pub fn new(again: Again) -> Podium {
        Podium {
            again,
            ..Podium::default()
        }
    }

    /// The server vouched for `conductor` (its key checked at join, the token at
    /// `conduct`). A new conductor's orders go on from the last number taken.
    pub fn vouch(&mut self, conductor: NodeId) {
        self.conductor = Some(conductor);
    }

    /// The conductor, if the server vouched for one.
    pub fn conductor(&self) -> Option<NodeId> {
        self.conductor
    }

    /// The number of the last order taken (0: none).
    pub fn last(&self) -> u64 {
        self.last
    }

    /// Admits an order's text: checked ([`check_order`]) against the vouched conductor
    /// (`no-conductor` without one), and newer than the last admitted (`replayed`
    /// otherwise; the same order again is `known` or `replayed`, as [`Again`] says). Its
    /// number becomes the last. The order check, for members and server alike; it notes
    /// nothing of what the order asks ([`Podium::take`] does).
    pub fn admit(&mut self, room: &str, text: &str) -> Result<Order, &'static str> {
        let conductor = self.conductor.ok_or("no-conductor")?;
        let order = check_order(room, conductor, text)?;
        if self.again == Again::Known && self.taken.contains(&order.seq) {
            return Err("known");
        }
        if order.seq <= self.last {
            return Err("replayed");
        }
        self.last = order.seq;
        if self.again == Again::Known {
            if self.taken.len() == 64 {
                self.taken.pop_front();
            }
            self.taken.push_back(order.seq);
        }
        Ok(order)
    }

    /// Takes an order's text, as a member does: admitted ([`Podium::admit`]), and what it
    /// holds the room to is noted.
    pub fn take(&mut self, room: &str, text: &str) -> Result<Order, &'static str> {
        let order = self.admit(room, text)?;
        match &order.command {
            Command::Settings(s) => self.settings = Some(*s),
            Command::Split { groups, members } => {
                self.group_count = *groups;
                self.groups = if *groups > 1 {
                    members.iter().copied().collect()
                } else {
                    BTreeMap::new()
                };
            }
            Command::Freeze { member, frozen } => {
                if *frozen {
                    self.frozen.insert(*member);
                } else {
                    self.frozen.remove(member);
                }
            }
            Command::Ask => self.asked = Some(order.seq),
            // Never the conductor itself: its tab would cut itself off from the room.
            Command::Remove { members } => {
                let conductor = self.conductor;
                self.removed
                    .extend(members.iter().copied().filter(|&m| Some(m) != conductor));
            }
            Command::Lock { locked } => self.locked = *locked,
            // The server's to act on: members have nothing to do.
            Command::Wait { .. } | Command::Admit { .. } => {}
            Command::Rumor { .. } | Command::Reset => {}
        }
        Ok(order)
    }

    /// `member`'s group (0 when not split or not named).
    pub fn group_of(&self, member: NodeId) -> u8 {
        self.groups.get(&member).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn teacher() -> Identity {
        Identity::from_secret([1; 32])
    }

    fn settings(fanout: u8) -> Command {
        Command::Settings(Settings {
            fanout,
            interval_ms: 500,
            loss_percent: 0,
            stop: 0,
            k: 1,
        })
    }

    #[test]
    fn a_vouched_conductors_orders_are_taken_in_order_and_never_twice() {
        let mut baton = Baton::new(teacher(), "class".into(), 0);
        let mut podium = Podium::default();
        let first = baton.order(1_000, &settings(3));
        assert_eq!(podium.take("class", &first), Err("no-conductor"));
        podium.vouch(teacher().id());
        let order = podium.take("class", &first).unwrap();
        assert_eq!(order.command, settings(3));
        assert_eq!(podium.settings.map(|s| s.fanout), Some(3));
        // Again (a reconnection): known. An older one never taken: refused.
        let older = sign_order(&teacher(), "class", 999, &settings(7));
        let second = baton.order(1_000, &settings(5));
        assert_eq!(podium.take("class", &first), Err("known"));
        assert_eq!(podium.take("class", &older), Err("replayed"));
        assert_eq!(podium.take("class", &second).unwrap().seq, 1_001);
        assert_eq!(podium.take("class", &second), Err("known"));
        // A new conductor with a clock behind goes on above the last order taken.
        let mut next = Baton::new(teacher(), "class".into(), podium.last());
        assert_eq!(
            podium
                .take("class", &next.order(10, &settings(2)))
                .unwrap()
                .seq,
            1_002
        );
        assert_eq!(podium.settings.map(|s| s.fanout), Some(2));
    }

    #[test]
    fn the_same_order_again_is_known_to_a_member_and_a_replay_to_the_server() {
        let mut baton = Baton::new(teacher(), "class".into(), 0);
        let (mut member, mut server) = (Podium::default(), Podium::new(Again::Replayed));
        member.vouch(teacher().id());
        server.vouch(teacher().id());
        let first = baton.order(1_000, &settings(3));
        assert_eq!(server.admit("class", &first).unwrap().seq, 1_000);
        assert_eq!(member.take("class", &first).unwrap().seq, 1_000);
        assert_eq!(server.admit("class", &first), Err("replayed"));
        assert_eq!(member.take("class", &first), Err("known"));
        // The check alone notes nothing; taking notes what the order holds the room to.
        assert_eq!(server.settings, None);
        assert_eq!(member.settings.map(|s| s.fanout), Some(3));
        let older = sign_order(&teacher(), "class", 999, &settings(7));
        assert_eq!(server.admit("class", &older), Err("replayed"));
        assert_eq!(member.take("class", &older), Err("replayed"));
        assert_eq!(server.last(), 1_000);
    }

    #[test]
    fn orders_by_another_key_for_another_room_or_altered_are_refused() {
        let mut podium = Podium::default();
        podium.vouch(teacher().id());
        let student = Identity::from_secret([2; 32]);
        let forged = sign_order(&student, "class", 5, &settings(9));
        assert_eq!(podium.take("class", &forged), Err("wrong-key"));
        let elsewhere = sign_order(&teacher(), "other", 5, &settings(9));
        assert_eq!(podium.take("class", &elsewhere), Err("bad-signature"));
        // The teacher's signature on one command does not cover another.
        let bytes =
            relay_decode(&sign_order(&teacher(), "class", 5, &settings(2)), 1 << 14).unwrap();
        let mut signed: Signed = postcard::from_bytes(&bytes).unwrap();
        signed.command = postcard::to_allocvec(&settings(9)).unwrap();
        let altered = relay_encode(&postcard::to_allocvec(&signed).unwrap());
        assert_eq!(podium.take("class", &altered), Err("bad-signature"));
        assert_eq!(podium.take("class", "%%%"), Err("malformed"));
        assert_eq!(podium.take("class", "AAAA"), Err("malformed"));
        assert_eq!(podium.settings, None);
    }

    #[test]
    fn out_of_range_commands_are_refused_even_when_signed() {
        let mut podium = Podium::default();
        podium.vouch(teacher().id());
        for bad in [
            settings(0),
            settings(17),
            Command::Split {
                groups: 4,
                members: vec![],
            },
            Command::Split {
                groups: 2,
                members: vec![(NodeId(1), 2)],
            },
        ] {
            let text = sign_order(&teacher(), "class", 7, &bad);
            assert!(podium.take("class", &text).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn removals_add_up_and_a_lock_stands_until_lifted() {
        let mut baton = Baton::new(teacher(), "class".into(), 0);
        let mut podium = Podium::default();
        podium.vouch(teacher().id());
        let remove = |ids: &[u64]| Command::Remove {
            members: ids.iter().map(|&i| NodeId(i)).collect(),
        };
        podium
            .take("class", &baton.order(1, &remove(&[7])))
            .unwrap();
        podium
            .take("class", &baton.order(2, &remove(&[8, 9])))
            .unwrap();
        assert_eq!(
            podium.removed.iter().map(|n| n.0).collect::<Vec<_>>(),
            [7, 8, 9]
        );
        // Removals are the server's to hold; a lock stands.
        assert_eq!(remove(&[7]).standing(), None);
        // The conductor is never removed, even by its own order.
        podium
            .take("class", &baton.order(3, &remove(&[teacher().id().0])))
            .unwrap();
        assert!(!podium.removed.contains(&teacher().id()));
        assert!(podium.take("class", &baton.order(4, &remove(&[]))).is_err());
        let lock = |locked| Command::Lock { locked };
        assert_eq!(lock(true).standing(), lock(false).standing());
        podium.take("class", &baton.order(5, &lock(true))).unwrap();
        assert!(podium.locked);
        podium.take("class", &baton.order(6, &lock(false))).unwrap();
        assert!(!podium.locked);
    }

    #[test]
    fn a_split_names_groups_and_a_heal_clears_them() {
        let mut baton = Baton::new(teacher(), "class".into(), 0);
        let mut podium = Podium::default();
        podium.vouch(teacher().id());
        let split = Command::Split {
            groups: 2,
            members: vec![(NodeId(1), 0), (NodeId(2), 1)],
        };
        podium.take("class", &baton.order(1, &split)).unwrap();
        assert_eq!(podium.group_of(NodeId(2)), 1);
        assert_eq!(podium.group_of(NodeId(3)), 0);
        let heal = Command::Split {
            groups: 1,
            members: vec![],
        };
        podium.take("class", &baton.order(2, &heal)).unwrap();
        assert_eq!(podium.group_of(NodeId(2)), 0);
    }
}
