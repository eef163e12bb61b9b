//! What every connection shares ([`Shared`], behind an [`AppState`]): the rooms and their
//! members ([`Rooms`], [`Room`], [`Member`]), the limits, the ICE servers, and the
//! server-wide counters (bytes queued, refusals); the bounds on connections' queues; the
//! server's log line.
//!
//! The room state is behind one lock ([`Shared::rooms`]); nothing awaits while holding it.
//! What members do to their rooms is in [`super::rooms`] and [`super::relay`].

use super::admission::{JoinCodes, Keeping, WrongCodes};
use super::conductor::Conductor;
use super::frames::Outgoing;
use super::ice::Ice;
use super::limits::{JoinRate, Limits};
use grapevine_core::signal;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{mpsc, Notify};

/// Frames waiting for one connection at most; beyond, frames for it are dropped (signals are
/// retried by the pages' handshake timeouts), so a client that stops reading costs bounded
/// memory.
pub(super) const QUEUE_FRAMES: usize = 64;

/// Bytes queued for all connections together at most (frames beyond are dropped and
/// counted as `queue-memory`): each connection's queue is bounded in frames, and this bounds
/// them all in bytes, whatever the number of connections.
const MAX_QUEUED_BYTES: usize = 256 * 1024 * 1024;

/// Bytes queued for the connections of one address at most (an eighth of
/// [`MAX_QUEUED_BYTES`]): readers that stall (a flood of connections that never read) cost
/// their own address's share, never the others', so frames for everyone else never drop
/// because of them. A class behind one router, reading, holds a few KiB queued.
pub(super) const MAX_QUEUED_PER_ADDRESS: usize = MAX_QUEUED_BYTES / 8;

/// What every connection shares: the rooms, the limits, and the server-wide counters.
pub(super) struct Shared {
    pub(super) rooms: Mutex<Rooms>,
    pub(super) limits: Limits,
    /// The STUN and TURN servers pages get (`/config`, and each welcome).
    pub(super) ice: Ice,
    /// Origins allowed besides the server's own.
    pub(super) allow_origins: Vec<String>,
    /// Join attempts per IP address.
    pub(super) joins: JoinRate,
    /// Bytes queued for all connections together.
    pub(super) queued: AtomicUsize,
    /// Bytes queued for the connections of each address.
    pub(super) queued_at: Mutex<HashMap<IpAddr, usize>>,
    /// Each conducted room's token: a token conducts its own room and no other.
    pub(super) conductor_tokens: BTreeMap<String, String>,
    /// The join codes asked for (`--join-code`), if any.
    pub(super) join_codes: JoinCodes,
    /// Connections and frames refused, by reason (`/health`).
    pub(super) refusals: Mutex<BTreeMap<&'static str, u64>>,
    /// How many more times free memory is to be handed back to the system
    /// (`connection::give_back_memory`).
    pub(super) give_back_due: std::sync::atomic::AtomicU32,
}

impl Shared {
    /// Whether `token` conducts `room`.
    pub(super) fn conducts(&self, room: &str, token: &str) -> bool {
        self.conductor_tokens
            .get(room)
            .is_some_and(|own| super::conductor::token_matches(token, own))
    }

    /// Counts one refusal for `why`.
    pub(super) fn refused(&self, why: &'static str) {
        *self
            .refusals
            .lock()
            .expect("refusals")
            .entry(why)
            .or_default() += 1;
    }

    /// Queues a frame for a connection of address `ip`, unless its queue is full, its
    /// address's connections hold [`MAX_QUEUED_PER_ADDRESS`] (`queue-address`), or all queues
    /// together [`MAX_QUEUED_BYTES`] (`queue-memory`); false (and counted) if dropped.
    pub(super) fn offer(&self, tx: &mpsc::Sender<Outgoing>, ip: IpAddr, frame: Outgoing) -> bool {
        let len = frame.len();
        {
            let mut at = self.queued_at.lock().expect("queued_at");
            let here = at.entry(ip).or_default();
            if *here + len > MAX_QUEUED_PER_ADDRESS {
                drop(at);
                self.refused("queue-address");
                return false;
            }
            if self.queued.fetch_add(len, Ordering::Relaxed) + len > MAX_QUEUED_BYTES {
                self.queued.fetch_sub(len, Ordering::Relaxed);
                drop(at);
                self.refused("queue-memory");
                return false;
            }
            *here += len;
        }
        if tx.try_send(frame).is_err() {
            self.unqueue(ip, len);
            return false;
        }
        true
    }

    /// A frame for a connection of `ip` left its queue.
    pub(super) fn dequeued(&self, ip: IpAddr, frame: &Outgoing) {
        self.unqueue(ip, frame.len());
    }

    fn unqueue(&self, ip: IpAddr, len: usize) {
        self.queued.fetch_sub(len, Ordering::Relaxed);
        let mut at = self.queued_at.lock().expect("queued_at");
        if let Some(here) = at.get_mut(&ip) {
            *here = here.saturating_sub(len);
            if *here == 0 {
                at.remove(&ip);
            }
        }
    }

    /// The most bytes queued for one address now (`/health`).
    pub(super) fn queued_at_busiest(&self) -> usize {
        let at = self.queued_at.lock().expect("queued_at");
        at.values().copied().max().unwrap_or(0)
    }

    /// The limits as a welcome tells them.
    pub(super) fn wire_limits(&self) -> signal::Limits {
        signal::Limits {
            max_rate: self.limits.rate as u32,
            max_frame_bytes: self.limits.frame_bytes as u32,
            relay_bytes_per_sec: self.limits.relay_bytes as u32,
        }
    }
}

pub(super) type AppState = Arc<Shared>;

/// A line of the server's log (stderr).
pub(super) fn log(line: &str) {
    eprintln!("grapevine serve: {line}");
}

/// The end of a connection, decided outside its task (a new connection of the same member
/// took over, the conductor removed it): set once, and the connection's loop wakes and
/// closes with it. Not a frame in its queue, which a reader that stopped reading keeps full:
/// the close must always get through.
#[derive(Default)]
pub(super) struct Ending {
    why: OnceLock<(u16, &'static str)>,
    wake: Notify,
}

impl Ending {
    /// Ends the connection with `code` and `reason` (the first ending stands).
    pub(super) fn end(&self, code: u16, reason: &'static str) {
        if self.why.set((code, reason)).is_ok() {
            // A permit is kept if the loop is not waiting: the wake is never lost.
            self.wake.notify_one();
        }
    }

    /// The code and reason, if the connection was ended.
    pub(super) fn get(&self) -> Option<(u16, &'static str)> {
        self.why.get().copied()
    }

    /// Waits until the connection is ended; the code and reason.
    pub(super) async fn ended(&self) -> (u16, &'static str) {
        loop {
            if let Some(&why) = self.why.get() {
                return why;
            }
            self.wake.notified().await;
        }
    }
}

/// One member's connection, as its room knows it.
pub(super) struct Member {
    /// Its queue of frames to send.
    pub(super) tx: mpsc::Sender<Outgoing>,
    /// Which connection this is (a replaced connection must not remove its successor).
    pub(super) conn: u64,
    /// It asked for relayed messages in binary frames (`relay=binary`), not JSON.
    pub(super) binary: bool,
    /// Its links, as it last said (`links` frames).
    pub(super) direct: u32,
    pub(super) relay: u32,
    /// A `peer-joined` or `peer-left` for it was dropped (its queue was full): it gets the
    /// whole roster at its next second.
    pub(super) stale: Arc<AtomicBool>,
    /// Ends its connection from outside (replaced, removed).
    pub(super) ending: Arc<Ending>,
    /// The address it joined from (an IPv6 host by its /64).
    pub(super) ip: IpAddr,
}

/// A room: its members and what its relay carried.
#[derive(Default)]
pub(super) struct Room {
    pub(super) members: HashMap<String, Member>,
    /// Its conductor, if it has one, and the orders the server relayed from it.
    pub(super) conductor: Conductor,
    pub(super) relay_frames: u64,
    pub(super) relay_bytes: u64,
    /// Relayed messages for members no longer there (dropped).
    pub(super) relay_undelivered: u64,
}

impl Room {
    /// Its members by address, most first (then by address): what the conductor is told.
    pub(super) fn by_address(&self) -> Vec<signal::AddressMembers> {
        let mut by: BTreeMap<IpAddr, Vec<String>> = BTreeMap::new();
        for (peer, member) in &self.members {
            by.entry(member.ip).or_default().push(peer.clone());
        }
        let mut rows: Vec<signal::AddressMembers> = by
            .into_iter()
            .map(|(ip, mut members)| {
                members.sort();
                signal::AddressMembers {
                    address: ip.to_string(),
                    members,
                }
            })
            .collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.members.len()));
        rows
    }

    /// Its members but `peer`: a welcome's and a roster's list.
    pub(super) fn others(&self, peer: &str) -> Vec<String> {
        self.members
            .keys()
            .filter(|k| k.as_str() != peer)
            .cloned()
            .collect()
    }
}

/// Every room, and connections per IP address.
#[derive(Default)]
pub(super) struct Rooms {
    pub(super) rooms: HashMap<String, Room>,
    pub(super) per_ip: HashMap<IpAddr, usize>,
    /// Connections per address in each room it has members in.
    pub(super) ip_rooms: HashMap<IpAddr, HashMap<String, usize>>,
    /// What each room's conductor decided, and whom each room admitted: kept while the room
    /// has members, and after if it is locked or has removals.
    pub(super) kept: HashMap<String, Keeping>,
    /// Wrong join codes per address this period.
    pub(super) wrong_codes: WrongCodes,
    pub(super) next_conn: u64,
}
