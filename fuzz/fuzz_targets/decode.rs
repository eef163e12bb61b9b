//! The wire decoder on arbitrary bytes: it must return an error or a message, never panic,
//! hang or allocate without bound; and whatever it accepts must encode and decode again to
//! the same message. Then the same bytes reach a live member from a linked peer (one member
//! for the whole run, so its state builds up as a hostile peer's would): whatever the
//! message (signed news, writes, rumors, goodbyes with made-up proofs and versions), the
//! member checks and refuses or applies it without panicking, and its state stays within
//! its caps.
#![no_main]

use grapevine_core::auth::Identity;
use grapevine_core::lab::live::{LiveConfig, LiveNode};
use grapevine_core::lab::rumor::RumorConfig;
use grapevine_core::lab::swim::MAX_SIGNED_MEMBERS;
use grapevine_core::lab::wire::{decode, encode};
use grapevine_core::lab::{Millis, NodeId};
use libfuzzer_sys::fuzz_target;
use std::sync::{Mutex, OnceLock};

/// The peer the bytes come from: linked, so its messages are read.
const PEER: NodeId = NodeId(0x5eed);

fn member() -> &'static Mutex<(LiveNode, u64)> {
    static MEMBER: OnceLock<Mutex<(LiveNode, u64)>> = OnceLock::new();
    MEMBER.get_or_init(|| {
        let config = LiveConfig {
            rumor: RumorConfig::default(),
            loss: 0.0,
        };
        let mut node = LiveNode::new(Identity::from_secret([1; 32]), 1, config, Millis(0));
        node.handle_link_up(Millis(0), PEER);
        Mutex::new((node, 0))
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = decode(data) {
        let bytes = encode(&message).expect("an accepted message fits the cap again");
        assert_eq!(decode(&bytes), Ok(message));
    }
    let mut guard = member().lock().unwrap_or_else(|e| e.into_inner());
    let (node, clock) = &mut *guard;
    // Time moves on with every input, enough that the peer stays under its message rate
    // (every input is read), and timers fire.
    *clock += 10;
    let now = Millis(*clock);
    node.handle_bytes(now, PEER, data);
    node.handle_timeout(now);
    while node.poll_transmit().is_some() {}
    while node.poll_event().is_some() {}
    assert!(node.swim().iter_members().count() <= MAX_SIGNED_MEMBERS);
});
