//! What the server carries between members of one room: WebRTC signals (offers, answers,
//! ICE candidates) to one member, and members' wire messages (`relay` frames) where no data
//! channel formed, or for native peers.
//!
//! A relayed message is always named as from the connection that sent it (never as the frame
//! said), goes only to members of the sender's room, and costs the sender's byte budget
//! ([`cost`], [`signal::relay_cost`]); what the relay carried (the messages' own bytes, not
//! their base64) is counted per room for `/health`. Members that ask for it (`relay=binary`)
//! send and receive binary batches ([`signal::relay_batch`]); others, JSON `relay` frames;
//! the relay converts between the two.

use super::frames::{Outgoing, ToClient};
use super::state::Shared;
use grapevine_core::lab::NodeId;
use grapevine_core::signal;
use std::collections::HashMap;
use std::net::IpAddr;
use tokio::sync::mpsc;

/// A relayed message's bytes as they came: base64 from a JSON `relay` frame, as they are
/// from a binary batch. Each receiver gets them as it asked (`relay=binary` or not).
pub(super) enum Data {
    Base64(String),
    Raw(Vec<u8>),
}

impl Data {
    /// The message's own bytes (a base64 text's decoded length, from its length and padding).
    fn len(&self) -> usize {
        match self {
            Data::Raw(bytes) => bytes.len(),
            Data::Base64(text) => {
                let padding = text.bytes().rev().take_while(|&b| b == b'=').count().min(2);
                (text.len() / 4 * 3).saturating_sub(padding)
            }
        }
    }

    fn base64(&self) -> String {
        match self {
            Data::Raw(bytes) => signal::relay_encode(bytes),
            Data::Base64(text) => text.clone(),
        }
    }

    /// The bytes, or `None` for base64 that does not decode (the receiver never sees it).
    fn raw(&self, max: usize) -> Option<Vec<u8>> {
        match self {
            Data::Raw(bytes) => Some(bytes.clone()),
            Data::Base64(text) => signal::relay_decode(text, max),
        }
    }
}

/// What one relayed message of a JSON frame costs the sender's byte budget beyond its data and
/// receiver id: its share of the JSON envelope, and the work of forwarding it.
const RELAY_ENTRY_BYTES: usize = signal::RELAY_ENTRY_COST;

/// What a JSON `relay` frame costs its sender's byte budget. Each message costs its envelope
/// too: empty messages are not free. (A binary batch's messages cost [`signal::relay_cost`].)
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
    state.offer(&member.tx, member.ip, Outgoing::Text(frame));
    true
}

/// Relays wire messages (each for a receiver, `to`) from `from` to members of its room: one
/// frame per receiver, its messages in order, each named as from `from` (never as the frame
/// said), in a binary batch or a JSON frame as the receiver asked. Messages for members no
/// longer in the room are dropped and counted.
pub(super) fn relay_frames(state: &Shared, room: &str, from: &str, messages: Vec<(String, Data)>) {
    let Some(from_id) = signal::parse_peer(from) else {
        return;
    };
    let mut rooms = state.rooms.lock().expect("rooms lock");
    let Some(here) = rooms.rooms.get_mut(room) else {
        return;
    };
    let mut by_receiver: HashMap<String, Vec<Data>> = HashMap::new();
    for (to, data) in messages {
        here.relay_frames += 1;
        here.relay_bytes += data.len() as u64;
        if to == from || !here.members.contains_key(&to) {
            here.relay_undelivered += 1;
            continue;
        }
        by_receiver.entry(to).or_default().push(data);
    }
    let receivers: Vec<(mpsc::Sender<Outgoing>, IpAddr, bool, Vec<Data>)> = by_receiver
        .into_iter()
        .filter_map(|(to, data)| {
            let member = here.members.get(&to)?;
            Some((member.tx.clone(), member.ip, member.binary, data))
        })
        .collect();
    let max = state.limits.frame_bytes;
    drop(rooms);
    // Encoded and queued outside the lock: every connection's frames pass through it.
    let mut undelivered = 0;
    for (tx, ip, binary, messages) in receivers {
        let (frames, lost) = if binary {
            binary_frames(from_id, &messages, max)
        } else {
            json_frames(from, &messages, max)
        };
        undelivered += lost;
        for (frame, count) in frames {
            if !state.offer(&tx, ip, frame) {
                // Its queue is full (it does not read fast enough) or it just closed.
                undelivered += count;
            }
        }
    }
    if undelivered > 0 {
        let mut rooms = state.rooms.lock().expect("rooms lock");
        if let Some(here) = rooms.rooms.get_mut(room) {
            here.relay_undelivered += undelivered;
        }
    }
}

/// What a JSON `relay` frame adds to each message: `{"peer":"<16 hex>","data":""},`.
const JSON_ENTRY_BYTES: usize = 40;

/// `messages` from `from` as binary batches of at most `max` bytes each (with the number of
/// messages in each), and how many could not go (base64 from a JSON sender that does not
/// decode, or a message over `max` by itself).
fn binary_frames(from: NodeId, messages: &[Data], max: usize) -> (Vec<(Outgoing, u64)>, u64) {
    let raw: Vec<Vec<u8>> = messages.iter().filter_map(|d| d.raw(max)).collect();
    let frames: Vec<(Outgoing, u64)> =
        signal::relay_batches(raw.iter().map(|b| (from, &b[..])), max)
            .into_iter()
            .map(|(frame, count)| (Outgoing::Binary(frame), count as u64))
            .collect();
    let sent: u64 = frames.iter().map(|(_, count)| count).sum();
    (frames, messages.len() as u64 - sent)
}

/// `messages` from `from` as JSON `relay` frames of at most `max` bytes each (base64 is a
/// third longer than the bytes a binary sender sent: one batch may become several frames),
/// with the number of messages in each, and how many were over `max` by themselves.
fn json_frames(from: &str, messages: &[Data], max: usize) -> (Vec<(Outgoing, u64)>, u64) {
    const ENVELOPE: usize = r#"{"type":"relay","frames":[]}"#.len();
    let mut lost = 0;
    let mut frames = Vec::new();
    let mut batch: Vec<signal::Relayed> = Vec::new();
    let mut size = ENVELOPE;
    let flush = |batch: &mut Vec<signal::Relayed>, frames: &mut Vec<(Outgoing, u64)>| {
        let count = batch.len() as u64;
        let text = serde_json::to_string(&ToClient::Relay {
            frames: std::mem::take(batch),
        })
        .expect("serialisable");
        frames.push((Outgoing::Text(text), count));
    };
    for data in messages {
        let data = data.base64();
        let len = data.len() + JSON_ENTRY_BYTES;
        if ENVELOPE + len > max {
            lost += 1;
            continue;
        }
        if !batch.is_empty() && size + len > max {
            flush(&mut batch, &mut frames);
            size = ENVELOPE;
        }
        size += len;
        batch.push(signal::Relayed {
            peer: from.to_string(),
            data,
        });
    }
    if !batch.is_empty() {
        flush(&mut batch, &mut frames);
    }
    (frames, lost)
}
