//! Same seed, same run: here natively, and against the hashes the wasm build computes.

mod common;

use grapevine_core::{trace_hash, Settings};

#[test]
fn native_trace_hashes_match_the_pinned_ones() {
    let computed = common::golden::computed();
    if std::env::var_os("BLESS").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/trace-hashes.txt");
        std::fs::write(path, &computed).unwrap();
    }
    assert_eq!(
        computed,
        common::golden::EXPECTED,
        "the engine's runs changed; if that is intended, rerun with BLESS=1 and say why in the commit"
    );
}

#[test]
fn same_seed_gives_the_same_trace_and_another_seed_another() {
    let s = Settings {
        nodes: 20_000,
        seed: 5,
        ..Settings::default()
    };
    assert_eq!(trace_hash(s, 100).unwrap(), trace_hash(s, 100).unwrap());
    assert_ne!(
        trace_hash(s, 100).unwrap(),
        trace_hash(Settings { seed: 6, ..s }, 100).unwrap()
    );
}
