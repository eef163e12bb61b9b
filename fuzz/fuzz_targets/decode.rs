//! The wire decoder on arbitrary bytes: it must return an error or a message, never panic,
//! hang or allocate without bound; and whatever it accepts must encode and decode again to
//! the same message.
#![no_main]

use grapevine_core::lab::wire::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = decode(data) {
        let bytes = encode(&message).expect("an accepted message fits the cap again");
        assert_eq!(decode(&bytes), Ok(message));
    }
});
