//! What members do to their rooms: joining (under the room, server and per-address caps),
//! leaving, a member taking its id back from its own stale connection, broadcasts to a room,
//! the conductor's vouch and orders (checked by the room's [`super::conductor::Conductor`]),
//! and `/health`'s figures. The rooms themselves are [`super::state::Rooms`].
//!
//! A room exists while it has members. Every function here takes the one rooms lock, does
//! its work, and only queues frames ([`Shared::offer`]): nothing here awaits or writes to a
//! socket, so a slow client never holds the lock.

use super::admission::{Door, Keeping, Waiter, MAX_WAITING};
use super::frames::{close, text_of, Outgoing, ToClient};
use super::state::{log, AppState, Ending, Member, Room, Shared};
use axum::extract::State;
use axum::response::Json;
use grapevine_core::lab::conduct::Command;
use grapevine_core::signal;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// A member's place in a room, as [`join`] gives it.
pub(super) struct Joined {
    pub(super) others: Vec<String>,
    /// The room's conductor and standing orders, oldest first, as frames to send after the
    /// welcome.
    pub(super) conducted: Vec<String>,
    pub(super) conn: u64,
    /// It took its id over from a connection still open.
    pub(super) replaced: bool,
}

/// Who asks to join, and how.
pub(super) struct Request<'a> {
    pub(super) room: &'a str,
    /// Its id (its key proven).
    pub(super) peer: &'a str,
    pub(super) ip: IpAddr,
    /// It asked for relayed messages in binary batches.
    pub(super) binary: bool,
    /// It gave the room's conductor token as it joined.
    pub(super) conductor: bool,
    /// The join code it gave, if any.
    pub(super) code: Option<&'a str>,
}

/// Why a join was refused: the close code, the reason the member reads, and the name
/// `/health` counts it under.
pub(super) struct Refusal {
    pub(super) code: u16,
    pub(super) reason: &'static str,
    pub(super) why: &'static str,
    /// Not refused but held at the door (a waiting room): woken when the conductor admits
    /// or removes this member, or opens the door; then it asks to join again.
    pub(super) door: Option<Arc<Door>>,
}

impl Refusal {
    fn new(code: u16, why: &'static str, reason: &'static str) -> Refusal {
        Refusal {
            code,
            reason,
            why,
            door: None,
        }
    }
}

/// A connection's handles, as its room keeps them.
#[derive(Clone)]
pub(super) struct Handles {
    pub(super) tx: mpsc::Sender<Outgoing>,
    pub(super) stale: Arc<AtomicBool>,
    pub(super) ending: Arc<Ending>,
}

/// Joins the room or says why not. The request's peer has proven its key: if a connection
/// still holds the id (the member's previous one, which the server has not yet seen go: a
/// tab that slept or lost its network), the new one takes it over and the old is closed
/// with [`close::REPLACED`].
///
/// In order: a member the conductor removed is refused; a member the room has not admitted
/// before needs the join code (if the server asks for one) and an open room; then the caps.
/// The conductor (its token in the join) is admitted past all but removal: a room filled,
/// or locked, by others must not lock the teacher out.
pub(super) fn join(state: &Shared, ask: &Request<'_>, handles: Handles) -> Result<Joined, Refusal> {
    let (room, peer, ip) = (ask.room, ask.peer, ask.ip);
    let mut rooms = state.rooms.lock().expect("rooms lock");
    let rooms = &mut *rooms;
    // A member taking its id back is not a new connection from its address: its old one is
    // about to go (a class behind one NAT coming back from a Wi-Fi drop must not be refused).
    let replacing = rooms
        .rooms
        .get(room)
        .is_some_and(|r| r.members.contains_key(peer));
    let kept = rooms.kept.get(room);
    if !ask.conductor && kept.is_some_and(|k| k.removed.contains(peer)) {
        return Err(Refusal::new(
            close::REMOVED,
            "removed",
            "the conductor removed you from the room",
        ));
    }
    let known = replacing || ask.conductor || kept.is_some_and(|k| k.admitted(peer));
    if !known && state.join_codes.required() {
        // Asked for the code (a student who opened the plain link: benign, `code-asked`);
        // a wrong one (`join-code`), at most MAX_WRONG_CODES per address and period.
        let Some(code) = ask.code else {
            return Err(Refusal::new(
                close::JOIN_CODE,
                "code-asked",
                "this room needs its join code: the teacher's screen shows it",
            ));
        };
        if !rooms.wrong_codes.may_try(ip) {
            return Err(Refusal::new(
                close::JOIN_CODE,
                "join-code",
                "too many wrong join codes from this address: wait a few minutes for the next code",
            ));
        }
        if !state.join_codes.admits(room, code) {
            rooms.wrong_codes.wrong(ip);
            return Err(Refusal::new(
                close::JOIN_CODE,
                "join-code",
                "wrong or expired join code: type the one the teacher's screen shows now",
            ));
        }
    }
    if !known && kept.is_some_and(|k| k.locked) {
        return Err(Refusal::new(
            close::LOCKED,
            "locked",
            "the room is locked: the conductor admits no new members",
        ));
    }
    if !known && kept.is_some_and(|k| k.waiting_room) {
        let kept = rooms.kept.get_mut(room).expect("kept above");
        // The same newcomer on a new connection (a reload): the old one goes.
        kept.replace_waiter(peer);
        if kept.waiting.len() >= MAX_WAITING {
            return Err(Refusal::new(
                close::TRY_LATER,
                "full",
                "the waiting room is full",
            ));
        }
        let door = Arc::new(Door::default());
        kept.waiting.push(Waiter {
            peer: peer.to_string(),
            ip,
            door: door.clone(),
        });
        return Err(Refusal {
            door: Some(door),
            ..Refusal::new(0, "waiting", "waiting for the conductor to admit you")
        });
    }
    let full = |reason| Refusal::new(close::TRY_LATER, "full", reason);
    if !replacing
        && !ask.conductor
        && rooms.per_ip.get(&ip).copied().unwrap_or(0) >= state.limits.per_ip
    {
        return Err(full("too many connections from this address"));
    }
    let its_rooms = rooms.ip_rooms.get(&ip);
    if its_rooms.is_some_and(|r| !r.contains_key(room) && r.len() >= state.limits.rooms_per_ip) {
        return Err(full("too many rooms from this address"));
    }
    let from_this_address = its_rooms.and_then(|r| r.get(room)).copied().unwrap_or(0);
    if !rooms.rooms.contains_key(room) && rooms.rooms.len() >= state.limits.rooms {
        return Err(full("too many rooms on this server"));
    }
    let here = rooms.rooms.entry(room.to_string()).or_default();
    if let Some(old) = here.members.get(peer) {
        old.ending
            .end(close::REPLACED, "this member connected again");
    } else if !ask.conductor {
        if here.members.len() >= state.limits.room_peers {
            return Err(full("the room is full"));
        }
        if from_this_address >= state.limits.room_share_per_ip() {
            return Err(full("too many members of this room from this address"));
        }
    }
    let others = here.others(peer);
    let conducted = here.conductor.frames();
    if !replacing {
        broadcast(
            state,
            here,
            &text_of(&ToClient::PeerJoined { peer: peer.into() }),
        );
    }
    rooms.next_conn += 1;
    let conn = rooms.next_conn;
    here.members.insert(
        peer.to_string(),
        Member {
            tx: handles.tx,
            conn,
            binary: ask.binary,
            direct: 0,
            relay: 0,
            stale: handles.stale,
            ending: handles.ending,
            ip,
        },
    );
    rooms.kept.entry(room.to_string()).or_default().admit(peer);
    *rooms.per_ip.entry(ip).or_default() += 1;
    *rooms
        .ip_rooms
        .entry(ip)
        .or_default()
        .entry(room.to_string())
        .or_default() += 1;
    Ok(Joined {
        others,
        conducted,
        conn,
        replaced: replacing,
    })
}

/// Connection `conn` of `peer` ended: it leaves the room, unless a connection of the same member took
/// its place.
fn leave(state: &Shared, room: &str, peer: &str, conn: u64, ip: IpAddr) {
    let mut rooms = state.rooms.lock().expect("rooms lock");
    if let Some(count) = rooms.per_ip.get_mut(&ip) {
        *count -= 1;
        if *count == 0 {
            rooms.per_ip.remove(&ip);
        }
    }
    if let Some(its) = rooms.ip_rooms.get_mut(&ip) {
        if let Some(count) = its.get_mut(room) {
            *count -= 1;
            if *count == 0 {
                its.remove(room);
            }
        }
        if its.is_empty() {
            rooms.ip_rooms.remove(&ip);
        }
    }
    let Some(here) = rooms.rooms.get_mut(room) else {
        return;
    };
    if here.members.get(peer).is_none_or(|m| m.conn != conn) {
        return;
    }
    here.members.remove(peer);
    if here.members.is_empty() {
        rooms.rooms.remove(room);
        // Whom it admitted goes with it (they need the code again), unless the conductor
        // locked it or removed someone: that stands while the server runs.
        if rooms.kept.get(room).is_some_and(Keeping::is_idle) {
            rooms.kept.remove(room);
        }
        return;
    }
    broadcast(
        state,
        here,
        &text_of(&ToClient::PeerLeft { peer: peer.into() }),
    );
}

/// Leaves the room when dropped: on every way out of a connection, a panic included.
pub(super) struct Membership {
    pub(super) state: AppState,
    pub(super) room: String,
    pub(super) peer: String,
    pub(super) conn: u64,
    pub(super) ip: IpAddr,
}

impl Drop for Membership {
    fn drop(&mut self) {
        leave(&self.state, &self.room, &self.peer, self.conn, self.ip);
    }
}

/// Queues `text` for every member of `room` (marked stale where its queue is full).
pub(super) fn broadcast(state: &Shared, room: &Room, text: &str) {
    for member in room.members.values() {
        if !state.offer(&member.tx, member.ip, Outgoing::Text(text.to_string())) {
            member.stale.store(true, Ordering::Relaxed);
        }
    }
}

/// What `room`'s conductor is told of it: its members by address, and whether it is locked.
pub(super) fn conductor_view(state: &Shared, room: &str) -> String {
    let rooms = state.rooms.lock().expect("rooms lock");
    text_of(&ToClient::Addresses {
        addresses: rooms
            .rooms
            .get(room)
            .map_or_else(Vec::new, Room::by_address),
        locked: rooms.kept.get(room).is_some_and(|k| k.locked),
        waiting_room: rooms.kept.get(room).is_some_and(|k| k.waiting_room),
        waiting: rooms
            .kept
            .get(room)
            .map_or_else(Vec::new, Keeping::waiting_by_address),
    })
}

/// A newcomer waiting at `room`'s door left (its connection closed) before it was let in.
pub(super) fn leave_door(state: &Shared, room: &str, door: &Arc<Door>) {
    let mut rooms = state.rooms.lock().expect("rooms lock");
    if let Some(kept) = rooms.kept.get_mut(room) {
        kept.waiting.retain(|w| !Arc::ptr_eq(&w.door, door));
    }
}

/// The members of `room` but `peer`.
pub(super) fn others(state: &Shared, room: &str, peer: &str) -> Vec<String> {
    let rooms = state.rooms.lock().expect("rooms lock");
    rooms
        .rooms
        .get(room)
        .map_or_else(Vec::new, |r| r.others(peer))
}

/// Records a member's links as it said them.
pub(super) fn record_links(
    state: &Shared,
    room: &str,
    peer: &str,
    conn: u64,
    direct: u32,
    relay: u32,
) {
    let mut rooms = state.rooms.lock().expect("rooms lock");
    if let Some(m) = rooms
        .rooms
        .get_mut(room)
        .and_then(|r| r.members.get_mut(peer))
        .filter(|m| m.conn == conn)
    {
        m.direct = direct;
        m.relay = relay;
    }
}

/// `peer` presented the right token: the server vouches for it as `room`'s conductor, to
/// every member (itself included).
pub(super) fn vouch(state: &Shared, room: &str, peer: &str) {
    let mut rooms = state.rooms.lock().expect("rooms lock");
    let Some(here) = rooms.rooms.get_mut(room) else {
        return;
    };
    // Every member proved its id's key at join: its id parses.
    let Some(id) = signal::parse_peer(peer) else {
        return;
    };
    here.conductor.vouch(id);
    let text = text_of(&ToClient::Conductor { peer: peer.into() });
    broadcast(state, here, &text);
}

/// An order from `peer`: relayed to the whole room if `peer` is the conductor the server
/// vouched for, the order is signed by its key for this room, and its number is above the
/// last; otherwise why not. A removal and a lock also bind the server: the removed members'
/// connections end ([`close::REMOVED`]) and their keys are refused from now on; a locked
/// room admits only members it admitted before.
pub(super) fn relay_order(
    state: &Shared,
    room: &str,
    peer: &str,
    order: &str,
) -> Result<(), String> {
    let mut rooms = state.rooms.lock().expect("rooms lock");
    let rooms = &mut *rooms;
    let Some(here) = rooms.rooms.get_mut(room) else {
        return Err("no such room".into());
    };
    let command = here.conductor.order(room, peer, order)?;
    let text = text_of(&ToClient::Order {
        order: order.to_string(),
    });
    broadcast(state, here, &text);
    let kept = rooms.kept.entry(room.to_string()).or_default();
    match command {
        Command::Remove { members } => {
            for id in members {
                // (Never the conductor: its order to remove itself was refused.)
                let removed = signal::peer_hex(id);
                kept.remove(&removed);
                kept.wake(|p| p == removed);
                if let Some(member) = here.members.remove(&removed) {
                    member
                        .ending
                        .end(close::REMOVED, "the conductor removed you from the room");
                    broadcast(
                        state,
                        here,
                        &text_of(&ToClient::PeerLeft {
                            peer: removed.clone(),
                        }),
                    );
                }
                log(&format!(
                    "the conductor removed peer {removed} from room {room}"
                ));
            }
        }
        Command::Lock { locked } => {
            kept.locked = locked;
            log(&format!(
                "the conductor {} room {room}",
                if locked { "locked" } else { "unlocked" }
            ));
        }
        Command::Wait { on } => {
            kept.waiting_room = on;
            if !on {
                // The door opens: each newcomer asks again (and meets the lock, the caps).
                kept.wake(|_| true);
            }
            log(&format!(
                "the conductor {} room {room}'s waiting room",
                if on { "opened" } else { "closed" }
            ));
        }
        Command::Admit { members } => {
            for id in members {
                let admitted = signal::peer_hex(id);
                kept.admit(&admitted);
                kept.wake(|p| p == admitted);
                log(&format!(
                    "the conductor admitted peer {admitted} to room {room}"
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Rooms listed in `/health` at most (the largest).
const HEALTH_ROOMS: usize = 50;

pub(super) async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let rooms = state.rooms.lock().expect("rooms lock");
    let peers: usize = rooms.rooms.values().map(|r| r.members.len()).sum();
    let relay_bytes: u64 = rooms.rooms.values().map(|r| r.relay_bytes).sum();
    let relay_frames: u64 = rooms.rooms.values().map(|r| r.relay_frames).sum();
    let mut listed: Vec<(&String, &Room)> = rooms.rooms.iter().collect();
    listed.sort_by_key(|(name, r)| (std::cmp::Reverse(r.members.len()), name.as_str()));
    let per_room: serde_json::Map<String, serde_json::Value> = listed
        .into_iter()
        .take(HEALTH_ROOMS)
        .map(|(name, room)| {
            (
                name.clone(),
                room_health(room, rooms.kept.get(name.as_str())),
            )
        })
        .collect();
    let refused: serde_json::Map<String, serde_json::Value> = state
        .refusals
        .lock()
        .expect("refusals")
        .iter()
        .map(|(&why, &n)| (why.to_string(), n.into()))
        .collect();
    Json(serde_json::json!({
        "status": "ok",
        "rooms": rooms.rooms.len(),
        "peers": peers,
        "relay_bytes": relay_bytes,
        "relay_frames": relay_frames,
        "queued_bytes": state.queued.load(Ordering::Relaxed),
        "queued_bytes_one_address": state.queued_at_busiest(),
        "refused": refused,
        "room": per_room,
    }))
}

/// A room's figures: members, links (as its members last said: each link counted once),
/// links per member, and what the relay carried.
fn room_health(room: &Room, kept: Option<&Keeping>) -> serde_json::Value {
    let mut per_member: Vec<u32> = room
        .members
        .values()
        .map(|m| m.direct.saturating_add(m.relay))
        .collect();
    per_member.sort_unstable();
    let ends: u64 = per_member.iter().map(|&l| u64::from(l)).sum();
    let relay_ends: u64 = room.members.values().map(|m| u64::from(m.relay)).sum();
    serde_json::json!({
        "peers": room.members.len(),
        "links": ends / 2,
        "relay_links": relay_ends / 2,
        "links_per_member": {
            "min": per_member.first().copied().unwrap_or(0),
            "median": per_member.get(per_member.len() / 2).copied().unwrap_or(0),
            "max": per_member.last().copied().unwrap_or(0),
        },
        "relay_bytes": room.relay_bytes,
        "relay_frames": room.relay_frames,
        "relay_undelivered": room.relay_undelivered,
        "conductor": room.conductor.peer(),
        "locked": kept.is_some_and(|k| k.locked),
        "removed": kept.map_or(0, |k| k.removed.len()),
        "waiting_room": kept.is_some_and(|k| k.waiting_room),
        "waiting": kept.map_or(0, |k| k.waiting.len()),
    })
}
