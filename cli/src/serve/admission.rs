//! Who may join a room beyond the caps: the join code ([`JoinCodes`]: `--join-code`, fixed or
//! rotating, shown on the conductor's page), and what the conductor decided for its room
//! ([`Keeping`]: the members it removed, whether it locked the room, and the members it
//! has admitted this session, who may come back under a lock or after the code rotated).
//!
//! A code admits a member's *key*: a student types it once, and the tab that reloads, or the
//! phone that wakes ten minutes later, proves the same key and comes back without it. The
//! conductor (its token in the join) needs no code and is never locked out.

use grapevine_core::signal;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a rotating code is the one shown; it is taken one period more (a student still
/// typing it as it changes is not refused), so a code read off the projector works for
/// five to ten minutes.
pub(super) const CODE_PERIOD: Duration = Duration::from_secs(5 * 60);

/// Members a room remembers as admitted at most (a lecture hall, with every tab reloaded a
/// few times over); past it, a member not remembered needs the current code to come back.
const MAX_ADMITTED: usize = 4_096;

/// Wrong join codes one address may give per period ([`CODE_PERIOD`]); past them, it is
/// refused until the next period, right code or not. Guessing one of the two codes a room
/// takes among a million at this rate: under 1 in 10,000 per period from one address (an
/// IPv6 host counts by its /64). A class behind one router mistyping stays well under it.
pub(super) const MAX_WRONG_CODES: u32 = 50;

/// Addresses whose wrong codes are counted at most (past it, those of earlier periods are
/// forgotten; an address new in a full table is refused a code until the next period).
const MAX_GUESSERS: usize = 65_536;

/// Wrong join codes per address in the current period.
#[derive(Default)]
pub(super) struct WrongCodes {
    by: HashMap<IpAddr, (u64, u32)>,
}

impl WrongCodes {
    /// Whether `ip` may still try a code this period.
    pub(super) fn may_try(&mut self, ip: IpAddr) -> bool {
        let (period, _) = period_now();
        if !self.by.contains_key(&ip) && self.by.len() >= MAX_GUESSERS {
            self.by.retain(|_, (p, _)| *p == period);
            if self.by.len() >= MAX_GUESSERS {
                return false;
            }
        }
        self.by
            .get(&ip)
            .is_none_or(|&(p, wrong)| p != period || wrong < MAX_WRONG_CODES)
    }

    /// `ip` gave a wrong code.
    pub(super) fn wrong(&mut self, ip: IpAddr) {
        let (period, _) = period_now();
        let entry = self.by.entry(ip).or_insert((period, 0));
        if entry.0 != period {
            *entry = (period, 0);
        }
        entry.1 += 1;
    }
}

/// The join codes a server asks for, if any.
pub(super) enum JoinCodes {
    /// Anyone may join (no `--join-code`).
    Off,
    /// `--join-code CODE`: this code, in every room, for the whole session (as compared:
    /// [`signal::join_code`]).
    Fixed(String),
    /// `--join-code` alone: six digits per room, drawn from a secret of this run and the
    /// period ([`CODE_PERIOD`]), so nobody can tell one room's or period's code from
    /// another's.
    Rotating([u8; 32]),
}

impl JoinCodes {
    /// The codes `--join-code` asks for: `None` without it, `Some("")` for rotating codes,
    /// `Some(CODE)` for a fixed one (checked by the caller). `None` back if there is no
    /// random generator for the secret.
    pub(super) fn of(flag: Option<&str>) -> Option<JoinCodes> {
        Some(match flag {
            None => JoinCodes::Off,
            Some("") => {
                let mut secret = [0u8; 32];
                getrandom::fill(&mut secret).ok()?;
                JoinCodes::Rotating(secret)
            }
            Some(code) => JoinCodes::Fixed(signal::join_code(code)),
        })
    }

    /// Whether joins need a code.
    pub(super) fn required(&self) -> bool {
        !matches!(self, JoinCodes::Off)
    }

    /// `room`'s code now, and for how long, ms, it stays the one shown (`None`: fixed).
    /// `None` when no code is asked for.
    pub(super) fn now(&self, room: &str) -> Option<(String, Option<u64>)> {
        match self {
            JoinCodes::Off => None,
            JoinCodes::Fixed(code) => Some((code.clone(), None)),
            JoinCodes::Rotating(secret) => {
                let (period, left) = period_now();
                Some((rotating(secret, room, period), Some(left)))
            }
        }
    }

    /// Whether `given` (as typed) is `room`'s code: the fixed code, or the rotating code of
    /// this period or the one before. Compared in time independent of where they differ.
    pub(super) fn admits(&self, room: &str, given: &str) -> bool {
        let given = signal::join_code(given);
        match self {
            JoinCodes::Off => true,
            // An empty code (no random generator for a rotating one) admits nobody.
            JoinCodes::Fixed(code) => !code.is_empty() && same(&given, code),
            JoinCodes::Rotating(secret) => {
                let (period, _) = period_now();
                [period, period.saturating_sub(1)]
                    .iter()
                    .any(|&p| same(&given, &rotating(secret, room, p)))
            }
        }
    }
}

/// The current period's number since the epoch, and the ms left in it.
fn period_now() -> (u64, u64) {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let period = CODE_PERIOD.as_millis() as u64;
    (ms / period, period - ms % period)
}

/// `room`'s six-digit code in `period`: HMAC-SHA1 of the room and the period under the
/// run's secret (the crates the TURN credentials use), reduced to six digits.
fn rotating(secret: &[u8; 32], room: &str, period: u64) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret).expect("any key length");
    mac.update(format!("join-code:{room}:{period}").as_bytes());
    let digest = mac.finalize().into_bytes();
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    format!("{:06}", n % 1_000_000)
}

/// Whether `a` and `b` are equal, in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// What the conductor decided for a room, kept for the session (also while the room is
/// empty: a locked room stays locked when its last member reloads).
#[derive(Default)]
pub(super) struct Keeping {
    /// Members admitted this session (joined with the code, or while the room was open):
    /// they may come back without the code, and into a locked room. The oldest are forgotten
    /// past [`MAX_ADMITTED`] (`order`, oldest first).
    admitted: HashSet<String>,
    order: VecDeque<String>,
    /// Members the conductor removed: refused for the rest of the session.
    pub(super) removed: HashSet<String>,
    /// No new members.
    pub(super) locked: bool,
    /// Newcomers wait at the door for the conductor ([`Keeping::waiting`]).
    pub(super) waiting_room: bool,
    /// Newcomers waiting at the door, first come first (at most [`MAX_WAITING`]): each
    /// connection waits on its [`Door`], woken when the conductor admits or removes it (or
    /// opens the door), and then asks to join again.
    pub(super) waiting: Vec<Waiter>,
}

/// Newcomers held at a room's door at most; more are told the room is full.
pub(super) const MAX_WAITING: usize = 256;

/// A newcomer at the door.
pub(super) struct Waiter {
    pub(super) peer: String,
    pub(super) ip: std::net::IpAddr,
    pub(super) door: std::sync::Arc<Door>,
}

/// What a connection waiting at the door waits on: woken when the conductor decides (or
/// opens the door), or when the same member connects again (`replaced`: this connection is
/// the old one, and closes as a replaced connection does).
#[derive(Default)]
pub(super) struct Door {
    pub(super) wake: tokio::sync::Notify,
    pub(super) replaced: std::sync::atomic::AtomicBool,
}

impl Keeping {
    /// Wakes every waiting connection whose peer `which` picks (each asks to join again:
    /// admitted, removed, or back to waiting) and lets them go from the list.
    pub(super) fn wake(&mut self, which: impl Fn(&str) -> bool) {
        self.waiting.retain(|w| {
            if which(&w.peer) {
                w.door.wake.notify_one();
                false
            } else {
                true
            }
        });
    }

    /// `peer` is at the door again, on a new connection: the old one is told it was replaced
    /// and leaves the list (the new one takes its place at the end).
    pub(super) fn replace_waiter(&mut self, peer: &str) {
        for w in self.waiting.iter().filter(|w| w.peer == peer) {
            w.door
                .replaced
                .store(true, std::sync::atomic::Ordering::Relaxed);
            w.door.wake.notify_one();
        }
        self.waiting.retain(|w| w.peer != peer);
    }

    /// Whether `peer` was admitted before.
    pub(super) fn admitted(&self, peer: &str) -> bool {
        self.admitted.contains(peer)
    }

    /// `peer` is in: remembered (the oldest admitted forgotten past [`MAX_ADMITTED`], so a
    /// flood of keys cannot stop a newcomer being remembered).
    pub(super) fn admit(&mut self, peer: &str) {
        if !self.admitted.insert(peer.to_string()) {
            return;
        }
        self.order.push_back(peer.to_string());
        while self.order.len() > MAX_ADMITTED {
            if let Some(old) = self.order.pop_front() {
                self.admitted.remove(&old);
            }
        }
    }

    /// The conductor removed `peer`: refused from now on (up to [`MAX_ADMITTED`] removals;
    /// past that, a removal still ends the connection, and the key, no longer admitted,
    /// needs the code or an open room to come back).
    pub(super) fn remove(&mut self, peer: &str) {
        if self.admitted.remove(peer) {
            self.order.retain(|p| p != peer);
        }
        if self.removed.len() < MAX_ADMITTED {
            self.removed.insert(peer.to_string());
        }
    }

    /// The newcomers waiting at the door, by address (first come first within each, the
    /// address of the first waiting first).
    pub(super) fn waiting_by_address(&self) -> Vec<grapevine_core::signal::AddressMembers> {
        let mut by: Vec<grapevine_core::signal::AddressMembers> = Vec::new();
        for w in &self.waiting {
            let address = w.ip.to_string();
            match by.iter_mut().find(|a| a.address == address) {
                Some(a) => a.members.push(w.peer.clone()),
                None => by.push(grapevine_core::signal::AddressMembers {
                    address,
                    members: vec![w.peer.clone()],
                }),
            }
        }
        by
    }

    /// Whether it holds nothing worth keeping once the room is empty.
    pub(super) fn is_idle(&self) -> bool {
        !self.locked && !self.waiting_room && self.removed.is_empty() && self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_code_is_taken_as_typed_and_nothing_else_is() {
        let codes = JoinCodes::of(Some("482-913")).unwrap();
        assert!(codes.required());
        for typed in ["482913", "482 913", "482-913"] {
            assert!(codes.admits("class", typed), "{typed}");
        }
        for wrong in ["", "482914", "48291", "4829130"] {
            assert!(!codes.admits("class", wrong), "{wrong}");
        }
        assert_eq!(codes.now("class"), Some(("482913".into(), None)));
    }

    #[test]
    fn rotating_codes_are_six_digits_per_room_and_period() {
        let codes = JoinCodes::of(Some("")).unwrap();
        let (code, left) = codes.now("class").unwrap();
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        assert!(left.is_some_and(|ms| ms <= CODE_PERIOD.as_millis() as u64));
        assert!(codes.admits("class", &code));
        let JoinCodes::Rotating(secret) = &codes else {
            panic!("rotating")
        };
        let (period, _) = period_now();
        // The one before is still taken; the one after and another room's are not.
        assert!(codes.admits("class", &rotating(secret, "class", period - 1)));
        assert!(!codes.admits("class", &rotating(secret, "class", period - 2)));
        assert!(!codes.admits("class", &rotating(secret, "class", period + 1)));
        let other = rotating(secret, "other", period);
        assert_eq!(other == code, codes.admits("class", &other));
        assert!(!JoinCodes::Off.required());
    }
}
