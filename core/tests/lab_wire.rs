//! The wire format: every message survives encode/decode; no input makes the decoder panic;
//! each kind of bad input gets its own error.

use grapevine_core::auth::Proof;
use grapevine_core::lab::kv::{
    Checks, Digest, Entry, Held, KvMessage, Span, VClock, MAX_HELD_VERSIONS,
};
use grapevine_core::lab::live::LinkMessage;
use grapevine_core::lab::push_sum::PushSumMessage;
use grapevine_core::lab::rumor::{Rumor, RumorId, RumorMessage};
use grapevine_core::lab::swim::{Incarnation, MemberState, SwimMessage, Update};
use grapevine_core::lab::wire::{
    decode, encode, pack, Message, WireError, DEFLATED, DEFLATE_ABOVE, MAX_MESSAGE_BYTES, VERSION,
};
use grapevine_core::lab::NodeId;
use proptest::collection::vec;
use proptest::prelude::*;

fn node_id() -> impl Strategy<Value = NodeId> {
    any::<u64>().prop_map(NodeId)
}

/// Any proof, or none: the decoder checks structure only (signatures are the protocols'
/// business, after decoding).
fn proof() -> impl Strategy<Value = Option<Proof>> {
    proptest::option::of(
        (any::<[u8; 32]>(), any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(key, r, s)| Proof {
            key,
            r,
            s,
        }),
    )
}

fn update() -> impl Strategy<Value = Update> {
    let state = prop_oneof![
        Just(MemberState::Alive),
        Just(MemberState::Suspect),
        Just(MemberState::Dead),
        Just(MemberState::Left),
    ];
    (node_id(), any::<u32>(), state, node_id(), proof()).prop_map(
        |(member, inc, state, from, proof)| Update {
            member,
            incarnation: Incarnation(inc),
            state,
            from,
            proof,
        },
    )
}

fn swim() -> impl Strategy<Value = SwimMessage> {
    prop_oneof![
        (any::<u32>(), vec(update(), 0..20))
            .prop_map(|(seq, updates)| SwimMessage::Ping { seq, updates }),
        (any::<u32>(), vec(update(), 0..20))
            .prop_map(|(seq, updates)| SwimMessage::Ack { seq, updates }),
        (any::<u32>(), node_id(), vec(update(), 0..20)).prop_map(|(seq, target, updates)| {
            SwimMessage::PingReq {
                seq,
                target,
                updates,
            }
        }),
        any::<u32>().prop_map(|seq| SwimMessage::Nack { seq }),
        (any::<u32>(), proof()).prop_map(|(i, proof)| SwimMessage::Join {
            incarnation: Incarnation(i),
            proof,
        }),
        vec(update(), 0..100).prop_map(|members| SwimMessage::Sync { members }),
        vec(node_id(), 0..100).prop_map(|members| SwimMessage::Want { members }),
        any::<u64>().prop_map(|hash| SwimMessage::Summary { hash }),
    ]
}

/// Sorted, distinct ids with counts: a valid clock or digest.
fn pairs(max: usize) -> impl Strategy<Value = Vec<(NodeId, u64)>> {
    proptest::collection::btree_map(any::<u64>(), any::<u64>(), 0..max)
        .prop_map(|m| m.into_iter().map(|(k, v)| (NodeId(k), v)).collect())
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        node_id(),
        1..u64::MAX,
        "[a-z]{1,64}",
        ".{0,40}",
        any::<u64>(),
        pairs(8),
        proof(),
    )
        .prop_map(
            |(origin, version, key, value, timestamp, clock, proof)| Entry {
                origin,
                version,
                key,
                value,
                timestamp,
                clock: VClock(clock),
                proof,
            },
        )
}

/// Checks of `n` origins under `salt` (none when the salt is even: both are valid).
fn checks_for(salt: u64, n: usize) -> Checks {
    let sums = if salt.is_multiple_of(2) {
        vec![]
    } else {
        (0..n).map(|i| (salt >> (i % 8)) as u8).collect()
    };
    Checks { salt, sums }
}

/// Valid held lists: origins and versions ascending, within the cap.
fn held() -> impl Strategy<Value = Vec<Held>> {
    vec((node_id(), vec(any::<u64>(), 0..40)), 0..5).prop_map(|lists| {
        let mut held: Vec<Held> = lists
            .into_iter()
            .map(|(origin, mut versions)| {
                versions.sort_unstable();
                versions.dedup();
                Held { origin, versions }
            })
            .collect();
        held.sort_unstable_by_key(|h| h.origin);
        held.dedup_by_key(|h| h.origin);
        held
    })
}

fn kv() -> impl Strategy<Value = KvMessage> {
    prop_oneof![
        (pairs(50), any::<u64>()).prop_map(|(d, salt)| KvMessage::Syn {
            span: Span::ALL,
            checks: checks_for(salt, d.len()),
            digest: Digest(d),
        }),
        (pairs(50), vec(entry(), 0..20), held()).prop_map(|(d, delta, held)| {
            KvMessage::SynAck {
                span: Span::ALL,
                digest: Digest(d),
                delta,
                held,
            }
        }),
        (vec(entry(), 0..20), held()).prop_map(|(delta, want)| KvMessage::Ack { delta, want }),
        (node_id(), node_id(), any::<u64>(), any::<u64>()).prop_map(|(a, b, hash, origins)| {
            KvMessage::Summary {
                span: Span {
                    from: a.min(b),
                    to: a.max(b),
                },
                hash,
                origins,
            }
        }),
        (
            node_id(),
            node_id(),
            any::<u64>(),
            vec(any::<u64>(), 0..100)
        )
            .prop_map(|(a, b, origins, versions)| KvMessage::Versions {
                span: Span {
                    from: a.min(b),
                    to: a.max(b),
                },
                origins,
                checks: checks_for(origins, versions.len()),
                versions,
            }),
    ]
}

fn rumor_id() -> impl Strategy<Value = RumorId> {
    (node_id(), any::<u32>()).prop_map(|(origin, seq)| RumorId { origin, seq })
}

fn one_rumor() -> impl Strategy<Value = Rumor> {
    (rumor_id(), any::<u16>(), any::<u64>(), ".{0,50}", proof()).prop_map(
        |(id, hops, born_ms, text, proof)| Rumor {
            id,
            hops,
            born_ms,
            text,
            proof,
        },
    )
}

fn rumor() -> impl Strategy<Value = RumorMessage> {
    prop_oneof![
        vec(one_rumor(), 0..=32).prop_map(|rumors| RumorMessage::Push { rumors }),
        vec(one_rumor(), 0..=32).prop_map(|rumors| RumorMessage::PullReply { rumors }),
        vec(rumor_id(), 0..100).prop_map(|have| RumorMessage::PullRequest { have }),
        (vec(rumor_id(), 0..16), vec(rumor_id(), 0..16))
            .prop_map(|(useful, knew)| RumorMessage::Feedback { useful, knew }),
    ]
}

fn link() -> impl Strategy<Value = LinkMessage> {
    prop_oneof![
        any::<u64>().prop_map(|sent_ms| LinkMessage::Hello { sent_ms }),
        any::<u64>().prop_map(|echo_ms| LinkMessage::HelloAck { echo_ms }),
        any::<u64>().prop_map(|sent_ms| LinkMessage::Ping { sent_ms }),
        (any::<u32>(), proof()).prop_map(|(i, proof)| LinkMessage::Bye {
            incarnation: grapevine_core::lab::swim::Incarnation(i),
            proof,
        }),
        any::<u64>().prop_map(|echo_ms| LinkMessage::Pong { echo_ms }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        link().prop_map(Message::Link),
        rumor().prop_map(Message::Rumor),
        swim().prop_map(Message::Swim),
        (-1e300..1e300f64, 0.0..1e6f64)
            .prop_map(|(sum, weight)| Message::PushSum(PushSumMessage { sum, weight })),
        kv().prop_map(Message::Kv),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn every_message_round_trips(m in message()) {
        let bytes = encode(&m).unwrap();
        prop_assert_eq!(bytes[0], VERSION);
        prop_assert_eq!(decode(&bytes), Ok(m));
    }

    /// Packed (deflated when that is shorter) or not, every message decodes to itself, and a
    /// packed message is never longer than the plain one.
    #[test]
    fn every_packed_message_round_trips(m in message()) {
        let plain = encode(&m).unwrap();
        let packed = pack(&m).unwrap();
        prop_assert!(packed.len() <= plain.len());
        prop_assert_eq!(packed[0] & DEFLATED != 0, packed != plain);
        prop_assert_eq!(decode(&packed), Ok(m));
    }

    #[test]
    fn deflated_garbage_never_panics(bytes in vec(any::<u8>(), 0..2048)) {
        let mut flagged = bytes;
        flagged.insert(0, VERSION | DEFLATED);
        if let Ok(m) = decode(&flagged) {
            prop_assert_eq!(decode(&pack(&m).unwrap()), Ok(m));
        }
    }

    #[test]
    fn every_proper_prefix_is_refused(m in message()) {
        let bytes = encode(&m).unwrap();
        for cut in 0..bytes.len() {
            prop_assert!(decode(&bytes[..cut]).is_err(), "prefix of {} bytes accepted", cut);
        }
    }

    #[test]
    fn garbage_never_panics(bytes in vec(any::<u8>(), 0..2048)) {
        let _ = decode(&bytes);
        let mut versioned = bytes.clone();
        versioned.insert(0, VERSION);
        if let Ok(m) = decode(&versioned) {
            // Whatever the decoder accepts is a valid message (varints may have been written
            // in a longer form than ours, so compare messages, not bytes).
            let again = encode(&m).unwrap();
            prop_assert_eq!(decode(&again), Ok(m));
        }
    }

    #[test]
    fn flipped_bytes_never_panic(m in message(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        for mut bytes in [encode(&m).unwrap(), pack(&m).unwrap()] {
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
            let _ = decode(&bytes);
        }
    }
}

fn ping() -> Message {
    Message::Swim(SwimMessage::Ping {
        seq: 7,
        updates: vec![],
    })
}

#[test]
fn each_kind_of_bad_input_has_its_error() {
    assert_eq!(decode(&[]), Err(WireError::Empty));
    let mut bytes = encode(&ping()).unwrap();
    bytes[0] = VERSION + 1;
    assert_eq!(decode(&bytes), Err(WireError::OtherVersion(VERSION + 1)));
    bytes[0] = 200;
    assert_eq!(decode(&bytes), Err(WireError::UnknownVersion(200)));
    bytes[0] = 1; // Before signed members: never in a room with this one.
    assert_eq!(decode(&bytes), Err(WireError::UnknownVersion(1)));
    let mut bytes = encode(&ping()).unwrap();
    bytes.push(0);
    assert_eq!(decode(&bytes), Err(WireError::TrailingBytes(1)));
    assert_eq!(
        decode(&vec![VERSION; MAX_MESSAGE_BYTES + 1]),
        Err(WireError::TooLarge(MAX_MESSAGE_BYTES + 1))
    );
    let bytes = encode(&ping()).unwrap();
    assert_eq!(decode(&bytes[..bytes.len() - 1]), Err(WireError::Truncated));
    assert_eq!(
        decode(&[VERSION, 9]),
        Err(WireError::Malformed),
        "no such message kind"
    );
}

#[test]
fn messages_out_of_bounds_are_refused() {
    let nan = Message::PushSum(PushSumMessage {
        sum: f64::NAN,
        weight: 1.0,
    });
    assert!(matches!(
        decode(&encode(&nan).unwrap()),
        Err(WireError::OutOfBounds(_))
    ));
    let negative = Message::PushSum(PushSumMessage {
        sum: 1.0,
        weight: -1.0,
    });
    assert!(matches!(
        decode(&encode(&negative).unwrap()),
        Err(WireError::OutOfBounds(_))
    ));
    let long_rumor = Message::Rumor(RumorMessage::Push {
        rumors: vec![Rumor {
            id: RumorId {
                origin: NodeId(1),
                seq: 0,
            },
            hops: 0,
            born_ms: 0,
            text: "r".repeat(201),
            proof: None,
        }],
    });
    assert!(matches!(
        decode(&encode(&long_rumor).unwrap()),
        Err(WireError::OutOfBounds(_))
    ));
    let unsorted = Message::Kv(KvMessage::Syn {
        span: Span::ALL,
        digest: Digest(vec![(NodeId(2), 1), (NodeId(1), 1)]),
        checks: Checks::default(),
    });
    assert!(matches!(
        decode(&encode(&unsorted).unwrap()),
        Err(WireError::OutOfBounds(_))
    ));
    let outside = Message::Kv(KvMessage::Syn {
        span: Span {
            from: NodeId(5),
            to: NodeId(9),
        },
        digest: Digest(vec![(NodeId(2), 1)]),
        checks: Checks::default(),
    });
    assert!(matches!(
        decode(&encode(&outside).unwrap()),
        Err(WireError::OutOfBounds(_))
    ));
    // A span that ends before it starts (a range over it would panic).
    let backwards = Message::Kv(KvMessage::Syn {
        span: Span {
            from: NodeId(5),
            to: NodeId(1),
        },
        digest: Digest(vec![]),
        checks: Checks::default(),
    });
    assert!(matches!(
        decode(&encode(&backwards).unwrap()),
        Err(WireError::OutOfBounds(_))
    ));
    // Checks that do not match the digest, one per origin.
    let unchecked = Message::Kv(KvMessage::Syn {
        span: Span::ALL,
        digest: Digest(vec![(NodeId(1), 1), (NodeId(2), 1)]),
        checks: Checks {
            salt: 1,
            sums: vec![7],
        },
    });
    assert!(matches!(
        decode(&encode(&unchecked).unwrap()),
        Err(WireError::OutOfBounds(_))
    ));
    // Held lists out of order, or longer than the cap.
    let list = |origin: u64, versions: Vec<u64>| Held {
        origin: NodeId(origin),
        versions,
    };
    for want in [
        vec![list(2, vec![1]), list(1, vec![1])],
        vec![list(1, vec![2, 1])],
        vec![list(1, (1..=(MAX_HELD_VERSIONS as u64 + 1)).collect())],
    ] {
        let ack = Message::Kv(KvMessage::Ack {
            delta: vec![],
            want,
        });
        assert!(matches!(
            decode(&encode(&ack).unwrap()),
            Err(WireError::OutOfBounds(_))
        ));
    }
    let long_key = Message::Kv(KvMessage::Ack {
        delta: vec![Entry {
            origin: NodeId(1),
            version: 1,
            key: "k".repeat(65),
            value: String::new(),
            timestamp: 0,
            clock: VClock::default(),
            proof: None,
        }],
        want: vec![],
    });
    assert!(matches!(
        decode(&encode(&long_key).unwrap()),
        Err(WireError::OutOfBounds(_))
    ));
    let too_many = Message::Swim(SwimMessage::Ping {
        seq: 1,
        updates: vec![
            Update {
                member: NodeId(1),
                incarnation: Incarnation(0),
                state: MemberState::Alive,
                from: NodeId(1),
                proof: None,
            };
            65
        ],
    });
    assert!(matches!(
        decode(&encode(&too_many).unwrap()),
        Err(WireError::OutOfBounds(_))
    ));
}

#[test]
fn an_oversized_message_is_not_encoded() {
    let huge = Message::Swim(SwimMessage::Sync {
        members: vec![
            Update {
                member: NodeId(u64::MAX),
                incarnation: Incarnation(u32::MAX),
                state: MemberState::Alive,
                from: NodeId(u64::MAX),
                proof: None,
            };
            2_000
        ],
    });
    assert!(matches!(encode(&huge), Err(WireError::TooLarge(_))));
}

/// What a live link sends: a short message as it is, a key-value delta (its keys and values
/// repeat text from entry to entry) deflated to well under its size; a deflated message that
/// would inflate past the cap, deflated garbage, and a deflated message of another version
/// are each refused with their own error.
#[test]
fn links_deflate_long_messages_and_refuse_bombs() {
    assert_eq!(pack(&ping()).unwrap(), encode(&ping()).unwrap());
    assert!(encode(&ping()).unwrap().len() <= DEFLATE_ABOVE);
    let delta: Vec<Entry> = (1..=20u64)
        .map(|i| Entry {
            origin: NodeId(0xe016_c1fc_55fc_f5a3 ^ i),
            version: 1,
            key: format!("room.{:016x}.heard.0", 0xe016_c1fc_55fc_f5a3 ^ i),
            value: format!("e016c1fc55fcf5a3.0 {:016x} 1765000000{i:03} 3", i * 7),
            timestamp: 1_765_000_000_000 + i,
            clock: VClock(vec![(NodeId(0xe016_c1fc_55fc_f5a3 ^ i), 1)]),
            proof: None,
        })
        .collect();
    let ack = Message::Kv(KvMessage::Ack {
        delta,
        want: vec![],
    });
    let (plain, packed) = (encode(&ack).unwrap(), pack(&ack).unwrap());
    assert_eq!(packed[0], VERSION | DEFLATED);
    assert!(
        packed.len() * 2 < plain.len(),
        "a delta of 20 records deflated to {} of {} bytes",
        packed.len(),
        plain.len()
    );
    assert_eq!(decode(&packed), Ok(ack));

    // A bomb: 1 MiB of zeros deflates to about a kilobyte.
    let mut bomb = vec![VERSION | DEFLATED];
    bomb.extend(miniz_oxide::deflate::compress_to_vec(
        &vec![0u8; 1 << 20],
        9,
    ));
    assert!(bomb.len() < MAX_MESSAGE_BYTES);
    assert_eq!(decode(&bomb), Err(WireError::InflatesTooLarge));
    assert_eq!(
        decode(&[VERSION | DEFLATED, 0xff, 0xff, 0xff]),
        Err(WireError::Malformed)
    );
    let mut older = packed.clone();
    older[0] = (VERSION - 1) | DEFLATED;
    assert_eq!(decode(&older), Err(WireError::OtherVersion(VERSION - 1)));
}
