//! What the server carries between members of one room: WebRTC signals (offers, answers,
//! ICE candidates) to one member, and members' wire messages (`relay` frames) where no data
//! channel formed, or for native peers.
//!
//! A relayed message is always named as from the connection that sent it (never as the frame
//! said), goes only to members of the sender's room, and costs the sender's byte budget
//! ([`cost`]); what the relay carried is counted per room for `/health`.

use super::frames::{Outgoing, ToClient};
use super::state::Shared;
use grapevine_core::signal;
use std::collections::HashMap;
use tokio::sync::mpsc;

/// What one relayed message costs the sender's byte budget beyond its data and receiver id:
/// its share of the JSON envelope, and the work of forwarding it.
const RELAY_ENTRY_BYTES: usize = 40;

/// What a `relay` frame costs its sender's byte budget. Each message costs its envelope too:
/// empty messages are not free.
pub(super) fn cost(frames: &[signal::Relayed]) -> usize {
    frames
        .iter()
        .map(|f| f.data.len() + f.peer.len() + RELAY_ENTRY_BYTES)
        .sum()
}

/// Sends `data` from `from` to `to` in `room`; false if `to` is not there.
pub(super) fn relay_signal(
    state: &Shared,
    room: &str,
    from: &str,
    to: &str,
    data: &serde_json::Value,
) -> bool {
    let rooms = state.rooms.lock().expect("rooms lock");
    let Some(member) = rooms.rooms.get(room).and_then(|r| r.members.get(to)) else {
        return false;
    };
    let frame = serde_json::to_string(&ToClient::Signal {
        from: from.into(),
        data,
    })
    .expect("serialisable");
    state.offer(&member.tx, frame);
    true
}

/// Relays wire messages from `from` to members of its room: one frame per receiver, its
/// messages in order, each named as from `from` (never as the frame said). Messages for
/// members no longer in the room are dropped and counted.
pub(super) fn relay_frames(state: &Shared, room: &str, from: &str, frames: Vec<signal::Relayed>) {
    let mut rooms = state.rooms.lock().expect("rooms lock");
    let Some(here) = rooms.rooms.get_mut(room) else {
        return;
    };
    let mut by_receiver: HashMap<String, Vec<signal::Relayed>> = HashMap::new();
    for frame in frames {
        here.relay_frames += 1;
        here.relay_bytes += frame.data.len() as u64;
        if frame.peer == from || !here.members.contains_key(&frame.peer) {
            here.relay_undelivered += 1;
            continue;
        }
        by_receiver
            .entry(frame.peer)
            .or_default()
            .push(signal::Relayed {
                peer: from.to_string(),
                data: frame.data,
            });
    }
    let receivers: Vec<(mpsc::Sender<Outgoing>, Vec<signal::Relayed>)> = by_receiver
        .into_iter()
        .filter_map(|(to, frames)| Some((here.members.get(&to)?.tx.clone(), frames)))
        .collect();
    drop(rooms);
    // Serialised and queued outside the lock: every connection's frames pass through it.
    let mut undelivered = 0;
    for (tx, frames) in receivers {
        let count = frames.len() as u64;
        let text = serde_json::to_string(&ToClient::Relay { frames }).expect("serialisable");
        if !state.offer(&tx, text) {
            // Its queue is full (it does not read fast enough) or it just closed.
            undelivered += count;
        }
    }
    if undelivered > 0 {
        let mut rooms = state.rooms.lock().expect("rooms lock");
        if let Some(here) = rooms.rooms.get_mut(room) {
            here.relay_undelivered += undelivered;
        }
    }
}
