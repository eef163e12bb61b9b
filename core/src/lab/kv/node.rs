//! A replicated key-value map: scuttlebutt anti-entropy (van Renesse et al. 2008, as in
//! Cassandra and chitchat) carrying every node's writes, and two ways to resolve conflicts
//! read side by side from the same replicated data.
//!
//! Replication: each node numbers its own writes 1, 2, 3, ... and keeps, per origin node, the
//! latest write of that origin to each key. A digest is "the highest version I have of each
//! origin"; an exchange is digest → (where the receiver is behind + the entries the first
//! lacks) → (the entries the receiver lacks), entries sent in version order and cut at a
//! byte budget, so a cut delta is still a prefix and the next exchange resumes it. The
//! answer names only the origins where its sender is behind, not its whole digest: between
//! replicas in step it is empty (Cassandra's and chitchat's send the whole digest back). There are no conflicts at this level:
//! each origin is the only writer of its own entries.
//!
//! With [`KvConfig::summaries`] (live rooms), an exchange starts with a [`KvMessage::Summary`]
//! instead: the span and a hash of the digest over it, a few bytes whatever the room's size.
//! A replica in step stays silent; one that is not answers with its own digest of the span
//! (a `Syn`), and the exchange goes on from there, one message later. Replicas agree most of
//! the time (a room writes a few records a minute), so a room's idle anti-entropy costs a
//! hash per exchange instead of a digest of every origin. The summary also hashes the
//! origins alone, and a replica holding the same ones (the usual case: a room's members
//! write, only their versions move) answers with its versions without the ids
//! ([`KvMessage::Versions`]): when every member writes at once (who heard a rumor), the
//! digests that do go out cost a byte or two an origin instead of eleven.
//!
//! Versions alone trust the order of deltas: a replica's version of an origin is the highest
//! write of it held, so a peer that forwards an origin's later writes but withholds an earlier
//! one (or hands a newcomer a captured old write beside the latest) leaves a gap that version
//! digests never show. Each origin's entries therefore also have a sum (a hash of the
//! versions held, [`Origin`]'s `sum`), in the summary's hash; a digest carries one byte of
//! each sum under a fresh salt ([`Checks`]), so a replica at the same version with other
//! entries shows up within an exchange or two, however a peer chose what to withhold. Where
//! the checks differ, the answer lists the versions it holds of that origin ([`Held`]), the
//! other sends what is not in the list and asks for what it lacks, and both end with the
//! newest write of every key.
//!
//! Conflicts appear when two nodes write the same key. Reading a key resolves its entries:
//! - **last writer wins** ([`KvNode::lww`]): the entry with the largest (timestamp, origin);
//!   simple, but a writer whose clock runs behind loses even when it wrote last, and one of two
//!   concurrent writes silently disappears;
//! - **vector clocks** ([`KvNode::siblings`]): a write's clock is the join of the clocks the
//!   writer had seen for the key, plus one of its own; entries another one's clock dominates
//!   are obsolete, and what remains are concurrent *siblings*, all kept for the user to merge.

use crate::auth::{Identity, Proof, Statement};
use crate::lab::swim::{MAX_PENDING, PENDING_MS};
use crate::lab::{Effects, Millis, Node, NodeId, Peers, Refusals, Roster, RoundTimer, Transmit};
use crate::rng::GossipRng;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Longest key, bytes.
pub const MAX_KEY_BYTES: usize = 64;
/// Longest value, bytes.
pub const MAX_VALUE_BYTES: usize = 256;
/// Most entries in one delta, and most components in one vector clock.
pub const MAX_DELTA_ENTRIES: usize = 256;
/// Most origins in one digest a peer may send.
pub const MAX_DIGEST_ORIGINS: usize = 4_096;
/// Most origins in one digest this node sends: a larger replica's digest goes in parts
/// (each naming the span of origins it covers), so a digest plus a full delta always fits
/// the wire's 16 KiB (about 13 bytes per origin) and replication never stops, however many
/// have written (chitchat bounds its digests the same way).
pub const DIGEST_CHUNK: usize = 400;
/// Signed members (live mode): most writers (origins) held; writes of more are refused
/// (`kv-writer-cap`).
pub const MAX_SIGNED_ORIGINS: usize = 1_024;
/// Signed members: most keys one writer holds here (`kv-key-cap` beyond).
pub const MAX_KEYS_PER_ORIGIN: usize = 64;
/// Signed members: most entries held in all (`kv-entry-cap` beyond): with the value and key
/// caps, a replica stays under about 5 MiB whatever peers send.
pub const MAX_SIGNED_ENTRIES: usize = 8_192;
/// The budget a delta is cut at, in estimated encoded bytes (under the wire's size cap).
pub const DELTA_BUDGET_BYTES: usize = 8 * 1024;
/// Most versions listed in one message's [`Held`] lists, all origins together: a signed
/// writer's 64 keys four times over, and at most about 2.3 KiB beside a full delta and
/// digest.
pub const MAX_HELD_VERSIONS: usize = 256;

/// A vector clock: one counter per node that wrote, sorted by node id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VClock(pub Vec<(NodeId, u64)>);

impl VClock {
    /// `node`'s counter (0 if absent).
    pub fn get(&self, node: NodeId) -> u64 {
        self.0
            .binary_search_by_key(&node, |&(n, _)| n)
            .map_or(0, |i| self.0[i].1)
    }

    /// The component-wise maximum of `self` and `other`.
    pub fn join(&mut self, other: &VClock) {
        for &(node, count) in &other.0 {
            match self.0.binary_search_by_key(&node, |&(n, _)| n) {
                Ok(i) => self.0[i].1 = self.0[i].1.max(count),
                Err(i) => self.0.insert(i, (node, count)),
            }
        }
    }

    /// Adds one to `node`'s counter.
    pub fn increment(&mut self, node: NodeId) {
        match self.0.binary_search_by_key(&node, |&(n, _)| n) {
            Ok(i) => self.0[i].1 += 1,
            Err(i) => self.0.insert(i, (node, 1)),
        }
    }

    /// Whether every counter of `self` is at least `other`'s and one is larger: `self`
    /// happened after `other`.
    pub fn dominates(&self, other: &VClock) -> bool {
        let covers = other.0.iter().all(|&(n, c)| self.get(n) >= c);
        covers && self != other
    }
}

/// One write, as replicated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The node that wrote it.
    pub origin: NodeId,
    /// The origin's write number: 1, 2, 3, ...
    pub version: u64,
    /// The key, `1..=MAX_KEY_BYTES` bytes.
    pub key: String,
    /// The value, at most `MAX_VALUE_BYTES` bytes.
    pub value: String,
    /// The writer's clock when it wrote, ms (for last-writer-wins).
    pub timestamp: u64,
    /// The write's vector clock (for siblings).
    pub clock: VClock,
    /// Signed members (live mode): the origin's signature on every other field
    /// ([`Statement::Write`]), so no one writes in another's name or claims another's next
    /// version. `None` in the simulator.
    pub proof: Option<Proof>,
}

impl Entry {
    fn validate(&self) -> Result<(), &'static str> {
        check_key_value(&self.key, &self.value)?;
        if self.version == 0 {
            return Err("entry version must start at 1");
        }
        if self.clock.0.len() > MAX_DELTA_ENTRIES {
            return Err("vector clock too long");
        }
        if self.clock.0.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err("vector clock not sorted");
        }
        Ok(())
    }

    /// An upper estimate of the encoded size, for the delta budget.
    fn size_estimate(&self) -> usize {
        let proof = if self.proof.is_some() { 96 } else { 0 };
        40 + self.key.len() + self.value.len() + 20 * self.clock.0.len() + proof
    }

    /// What `proof` must sign.
    fn statement(&self) -> Statement<'_> {
        Statement::Write {
            origin: self.origin,
            version: self.version,
            key: &self.key,
            value: &self.value,
            timestamp: self.timestamp,
            clock: &self.clock.0,
        }
    }
}

/// Checks a key and a value a user typed or a peer sent.
pub fn check_key_value(key: &str, value: &str) -> Result<(), &'static str> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err("key must be 1 to 64 bytes");
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err("value must be at most 256 bytes");
    }
    Ok(())
}

/// The highest version held of each origin, sorted by origin.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest(pub Vec<(NodeId, u64)>);

/// The origins a digest covers, inclusive: it lists every origin its sender holds in the
/// span (an origin of the span it does not list, it lacks). The whole id space unless the
/// sender holds more than [`DIGEST_CHUNK`] origins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// The first origin covered.
    pub from: NodeId,
    /// The last origin covered.
    pub to: NodeId,
}

impl Span {
    /// Every origin.
    pub const ALL: Span = Span {
        from: NodeId(0),
        to: NodeId(u64::MAX),
    };
}

/// One byte of each origin's sum ([`KvNode`]'s hash of the versions it holds of that
/// origin), under a salt new with each digest (a mix of the sender's id and how many digests
/// it sent), in the digest's order: a replica at the same version of an origin with other
/// entries (a write withheld by the peer it came through, or an old one handed in beside the
/// latest) differs in its check with probability 255/256 per exchange. A peer that chose what
/// to withhold could make one byte agree, but not the byte under every salt to come (that
/// takes the 64-bit sums agreeing). Empty: not checked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checks {
    /// What each byte is salted with.
    pub salt: u64,
    /// One byte per origin of the digest, or none.
    pub sums: Vec<u8>,
}

impl Checks {
    /// The check of an origin whose sum is `sum`, under `salt`.
    fn byte(salt: u64, sum: u64) -> u8 {
        crate::rng::mix64(salt ^ sum) as u8
    }
}

/// The versions a replica holds of one origin, ascending: sent where two replicas hold the
/// same version of it and their checks differ, so the other sends what is not listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// The origin.
    pub origin: NodeId,
    /// The versions of its entries held, ascending.
    pub versions: Vec<u64>,
}

/// Checks a list of [`Held`]: origins ascending, versions ascending, within
/// [`MAX_HELD_VERSIONS`] in all.
fn validate_held(held: &[Held]) -> Result<(), &'static str> {
    if held.windows(2).any(|w| w[0].origin >= w[1].origin) {
        return Err("held origins not sorted");
    }
    if held.iter().map(|h| h.versions.len()).sum::<usize>() > MAX_HELD_VERSIONS {
        return Err("held versions too many");
    }
    if held
        .iter()
        .any(|h| h.versions.windows(2).any(|w| w[0] >= w[1]))
    {
        return Err("held versions not sorted");
    }
    Ok(())
}

impl Digest {
    fn version_of(&self, origin: NodeId) -> u64 {
        self.find(origin).unwrap_or(0)
    }

    /// The version `origin` is listed at, if listed.
    fn find(&self, origin: NodeId) -> Option<u64> {
        self.0
            .binary_search_by_key(&origin, |&(n, _)| n)
            .ok()
            .map(|i| self.0[i].1)
    }
}

/// The key-value protocol's messages: a three-way scuttlebutt exchange.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum KvMessage {
    /// "This is what I have."
    Syn {
        /// The origins the digest covers.
        span: Span,
        /// The sender's digest.
        digest: Digest,
        /// A check of the entries behind each version of the digest.
        checks: Checks,
    },
    /// "Here is where I am behind you, and here is what you lack."
    SynAck {
        /// The `Syn`'s span.
        span: Span,
        /// The sender's versions of the origins where it is behind the `Syn`'s digest (0:
        /// none): the origins it wants entries of. (Replicas older than this message sent
        /// their whole digest here; the answer to either is the same.)
        digest: Digest,
        /// Entries the `Syn`'s sender lacks.
        delta: Vec<Entry>,
        /// The versions held of each origin where both are at the same version but the
        /// checks differ: the `Syn`'s sender sends what is not listed.
        held: Vec<Held>,
    },
    /// "Here is what you lack (and what I lack of the versions you hold)."
    Ack {
        /// Entries the `SynAck`'s sender lacks.
        delta: Vec<Entry>,
        /// Versions of the `SynAck`'s `held` lists not held here: the answer is an `Ack`
        /// with those entries (and nothing wanted).
        want: Vec<Held>,
    },
    /// "My digest over `span` hashes to `hash`" ([`digest_hash`]): a replica whose own digest
    /// over the span hashes the same says nothing; another answers with its digest of the
    /// span (a `Syn`, which the sender answers as any `Syn`).
    Summary {
        /// The origins the hash covers.
        span: Span,
        /// The hash of the sender's digest over the span.
        hash: u64,
        /// The hash of the origins alone ([`origins_hash`]): a replica holding the same ones
        /// answers with its versions only ([`KvMessage::Versions`]).
        origins: u64,
    },
    /// The answer to a `Summary` whose origins this replica holds too (the usual case in a
    /// room: its members write, and only their versions move): this replica's digest over
    /// `span` without the origins' ids, one or two bytes an origin instead of eleven. The
    /// receiver puts its own ids beside them, if they still hash to `origins`, and answers
    /// as it would a `Syn`; if not (it has met an origin since), it says nothing and its
    /// next exchange starts again.
    Versions {
        /// The origins the versions cover.
        span: Span,
        /// The hash of their ids ([`origins_hash`]).
        origins: u64,
        /// The sender's version of each, in the origins' order.
        versions: Vec<u64>,
        /// A check of the entries behind each version.
        checks: Checks,
    },
}

/// A hash of the origins' ids alone: [`digest_hash`] with every version 0.
pub fn origins_hash(origins: impl Iterator<Item = NodeId>) -> u64 {
    digest_hash(origins.map(|o| (o, 0)))
}

/// A hash of the (origin, mark) pairs of a digest, in order (a mark: a version, or a version
/// and its entries' sum, [`Origin::mark`]): equal digests hash the same,
/// and digests that differ almost surely do not (a 64-bit mix per pair, chained). Not a
/// cryptographic hash: a peer that made two digests collide would only skip one exchange with
/// itself; replicas in step with honest peers still meet those.
pub fn digest_hash(pairs: impl Iterator<Item = (NodeId, u64)>) -> u64 {
    use crate::rng::mix64 as mix;
    pairs.fold(0x9e37_79b9_7f4a_7c15, |h, (origin, version)| {
        mix(h ^ mix(origin.0 ^ mix(version)))
    })
}

impl KvMessage {
    /// Why it was sent: a digest on the sender's timer, the rest in answer (see
    /// [`Role`](crate::lab::role::Role)).
    pub fn role(&self) -> crate::lab::role::Role {
        match self {
            KvMessage::Syn { .. } | KvMessage::Summary { .. } => crate::lab::role::Role::Initiative,
            KvMessage::SynAck { .. } | KvMessage::Ack { .. } | KvMessage::Versions { .. } => {
                crate::lab::role::Role::Reply
            }
        }
    }

    /// Its kind, for the page's message log.
    pub fn kind(&self) -> &'static str {
        match self {
            KvMessage::Syn { .. } => "syn",
            KvMessage::SynAck { .. } => "syn-ack",
            KvMessage::Ack { .. } => "ack",
            KvMessage::Summary { .. } => "summary",
            KvMessage::Versions { .. } => "versions",
        }
    }

    /// Checks the bounds a decoded message must respect.
    pub fn validate(&self) -> Result<(), &'static str> {
        const NO_DIGEST: Digest = Digest(Vec::new());
        let checked = |checks: &Checks, origins: usize| {
            if checks.sums.is_empty() || checks.sums.len() == origins {
                Ok(())
            } else {
                Err("checks do not match the digest")
            }
        };
        let (digest, delta) = match self {
            KvMessage::Syn {
                span,
                digest,
                checks,
            } => {
                checked(checks, digest.0.len())?;
                (Some((span, digest)), None)
            }
            KvMessage::SynAck {
                span,
                digest,
                delta,
                held,
            } => {
                validate_held(held)?;
                (Some((span, digest)), Some(delta))
            }
            KvMessage::Ack { delta, want } => {
                validate_held(want)?;
                (None, Some(delta))
            }
            KvMessage::Summary { span, .. } => (Some((span, &NO_DIGEST)), None),
            KvMessage::Versions {
                span,
                versions,
                checks,
                ..
            } => {
                if versions.len() > MAX_DIGEST_ORIGINS {
                    return Err("digest too long");
                }
                checked(checks, versions.len())?;
                (Some((span, &NO_DIGEST)), None)
            }
        };
        if let Some((span, d)) = digest {
            if span.from > span.to {
                return Err("digest span ends before it starts");
            }
            if d.0.len() > MAX_DIGEST_ORIGINS {
                return Err("digest too long");
            }
            if d.0.windows(2).any(|w| w[0].0 >= w[1].0) {
                return Err("digest not sorted");
            }
            let within = |o: &(NodeId, u64)| (span.from..=span.to).contains(&o.0);
            if !d.0.iter().all(within) {
                return Err("digest outside its span");
            }
        }
        if let Some(delta) = delta {
            if delta.len() > MAX_DELTA_ENTRIES {
                return Err("delta too long");
            }
            for e in delta {
                e.validate()?;
            }
        }
        Ok(())
    }
}

/// The largest clock error a node may have, ms: an hour.
pub const MAX_CLOCK_OFFSET_MS: i64 = 3_600_000;

/// The key-value protocol's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KvConfig {
    /// One exchange started per node per interval, ms, `10..=60_000`.
    pub interval_ms: u32,
    /// This node's clock error, ms, `-3_600_000..=3_600_000`: added to `now` to stamp writes,
    /// so a student can watch last-writer-wins drop the later write of a node that runs slow.
    pub clock_offset_ms: i64,
    /// Start each exchange with a [`KvMessage::Summary`] (a hash of the digest) rather than
    /// the digest: far fewer bytes between replicas in step, one message more between
    /// replicas that are not. Live rooms use it; the lab's default is the classic exchange.
    pub summaries: bool,
}

impl Default for KvConfig {
    fn default() -> Self {
        KvConfig {
            interval_ms: 1_000,
            clock_offset_ms: 0,
            summaries: false,
        }
    }
}

impl KvConfig {
    /// Checks every range.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(10..=60_000).contains(&self.interval_ms) {
            return Err("key-value interval must be 10..=60000 ms");
        }
        if self.clock_offset_ms.abs() > MAX_CLOCK_OFFSET_MS {
            return Err("clock offset must be within an hour");
        }
        Ok(())
    }
}

/// What a user or a scenario can ask of a key-value node.
#[derive(Clone, Debug, PartialEq)]
pub enum KvCommand {
    /// Write `value` under `key` here.
    Set {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// From now on this node's clock is `offset_ms` off (within an hour either way): what
    /// stamps its writes for last-writer-wins ([`KvConfig::clock_offset_ms`]).
    Skew {
        /// The clock's error, ms (negative: it runs behind).
        offset_ms: i64,
    },
}

/// What a key-value node reports to the view.
#[derive(Clone, Debug, PartialEq)]
pub enum KvEvent {
    /// An entry for `key` arrived or was written here.
    Changed {
        /// Which key.
        key: String,
    },
    /// A write was refused (bad key or value); nothing changed.
    Refused(&'static str),
}

/// What a replica holds of one origin.
#[derive(Clone, Debug, Default)]
struct Origin {
    /// The highest version held.
    version: u64,
    /// The latest entry held for each key.
    entries: BTreeMap<String, Entry>,
    /// A hash of the versions of `entries`, in key order: replicas that hold the same version
    /// but not the same entries (a write withheld, an old one pinned) differ here.
    sum: u64,
}

impl Origin {
    /// Puts `entry` in (replacing the key's older entry) and updates version and sum.
    fn insert(&mut self, entry: Entry) {
        self.version = self.version.max(entry.version);
        self.entries.insert(entry.key.clone(), entry);
        self.sum = digest_hash(self.entries.values().map(|e| (NodeId(e.version), 0)));
    }

    /// What the summary's hash covers of this origin: its version and its entries' sum.
    fn mark(&self) -> u64 {
        self.version ^ crate::rng::mix64(self.sum)
    }

    /// The versions held, ascending.
    fn versions(&self) -> Vec<u64> {
        let mut versions: Vec<u64> = self.entries.values().map(|e| e.version).collect();
        versions.sort_unstable();
        versions
    }
}

/// A replica of the key-value map.
#[derive(Clone, Debug)]
pub struct KvNode {
    id: NodeId,
    config: KvConfig,
    rng: GossipRng,
    origins: BTreeMap<NodeId, Origin>,
    peers: Peers,
    round: RoundTimer,
    /// Where the next exchange's digest starts (a large replica's digest goes in parts).
    next_span_from: NodeId,
    /// Signed members (live mode): this node signs its writes, and takes only writes
    /// signed by their origin, within the caps.
    identity: Option<Identity>,
    /// Entries held, all origins.
    entries: usize,
    /// How many digests this replica has sent: each one's checks are salted with a mix of
    /// it and the id, so no two digests share a salt.
    digests_sent: u64,
    /// Signed members: the members in the room (the signaling server's word, as SWIM's
    /// roster): a writer not held yet is taken only if it is here, so keys made up by the
    /// thousand cannot fill the writer cap.
    roster: Roster,
    /// Writers whose entries were refused as not in the room, and since when: counted
    /// (`not-in-room`) only if the server's word that they joined does not come within
    /// [`PENDING_MS`] (a class joining at once sends writes ahead of that word), or if more
    /// than [`MAX_PENDING`] wait. Anti-entropy offers their entries again once they are in.
    unknown: BTreeMap<NodeId, Millis>,
    /// Entries refused, by reason.
    refusals: Refusals,
    effects: Effects<KvMessage, KvEvent>,
}

impl KvNode {
    /// An empty replica; its first exchange comes after a random part of an interval.
    pub fn new(id: NodeId, config: KvConfig, mut rng: GossipRng, now: Millis) -> Self {
        let round = RoundTimer::random_phase(config.interval_ms, &mut rng, now);
        KvNode {
            id,
            config,
            rng,
            origins: BTreeMap::new(),
            peers: Peers::default(),
            round,
            next_span_from: NodeId(0),
            digests_sent: 0,
            identity: None,
            entries: 0,
            roster: Roster::default(),
            unknown: BTreeMap::new(),
            refusals: Refusals::default(),
            effects: Effects::default(),
        }
    }

    /// Signed members (live mode): writes made here are signed with `identity` (whose id
    /// MUST be this node's); entries are taken only with their origin's valid signature, and
    /// within [`MAX_SIGNED_ORIGINS`], [`MAX_KEYS_PER_ORIGIN`] and [`MAX_SIGNED_ENTRIES`].
    pub fn signed(mut self, identity: Identity) -> Self {
        debug_assert_eq!(identity.id(), self.id);
        self.identity = Some(identity);
        self
    }

    /// Entries refused so far, by reason.
    pub fn refusals(&self) -> &Refusals {
        &self.refusals
    }

    /// Says whether `member` is in the room; from the first call on, a writer not held yet
    /// is taken only while it is (`not-in-room` otherwise; anti-entropy offers it again).
    /// Writers already held stay, with their entries, after they leave.
    pub fn set_in_room(&mut self, member: NodeId, in_room: bool) {
        self.roster.set(member, in_room);
        if in_room {
            self.unknown.remove(&member);
        }
    }

    /// `writer`'s entries were refused as not in the room (see [`KvNode::unknown`]).
    fn refused_unknown(&mut self, now: Millis, writer: NodeId) {
        self.expire_unknown(now);
        if self.unknown.contains_key(&writer) {
            return;
        }
        if self.unknown.len() < MAX_PENDING {
            self.unknown.insert(writer, now);
        } else {
            self.refusals.add("not-in-room");
        }
    }

    /// Counts the writers that waited [`PENDING_MS`] for the server's word in vain.
    fn expire_unknown(&mut self, now: Millis) {
        let before = self.unknown.len();
        self.unknown
            .retain(|_, since| since.after(PENDING_MS) > now);
        for _ in self.unknown.len()..before {
            self.refusals.add("not-in-room");
        }
    }

    /// The digest of the origins held from `from` on: all of them, or the first
    /// [`DIGEST_CHUNK`] and the span they cover.
    fn digest_from(&self, from: NodeId, until: NodeId) -> (Span, Digest) {
        let mut versions = Vec::new();
        for (&origin, state) in self.origins.range(from..=until) {
            if versions.len() == DIGEST_CHUNK {
                let last: NodeId = versions.last().map_or(from, |&(o, _)| o);
                return (Span { from, to: last }, Digest(versions));
            }
            versions.push((origin, state.version));
        }
        (Span { from, to: until }, Digest(versions))
    }
    /// Checks for `digest` (this replica's own), under a fresh salt.
    fn checks_for(&mut self, digest: &Digest) -> Checks {
        self.digests_sent += 1;
        let salt = crate::rng::mix64(self.id.0 ^ self.digests_sent);
        let sums = digest
            .0
            .iter()
            .map(|(origin, _)| Checks::byte(salt, self.origins.get(origin).map_or(0, |o| o.sum)))
            .collect();
        Checks { salt, sums }
    }

    /// The answer to a peer's digest over `span` (a `Syn`, or `Versions` with this
    /// replica's ids beside them): where this replica is behind it, what it lacks, and the
    /// versions held of the origins at the same version whose checks differ.
    fn answer_digest(&mut self, from: NodeId, span: Span, digest: Digest, checks: &Checks) {
        let delta = self.delta_for(span, &digest, false);
        // Only where this replica is behind the sender (its version there), not the
        // whole digest: between replicas in step the answer is empty, where a full
        // digest would repeat every origin (a live room's anti-entropy is otherwise
        // mostly digests). What the sender lacks is in `delta`.
        let mut behind = Vec::new();
        let mut held = Vec::new();
        let mut listed = 0;
        for (i, &(origin, theirs)) in digest.0.iter().enumerate() {
            let mine = self.origins.get(&origin);
            let version = mine.map_or(0, |o| o.version);
            if version < theirs {
                behind.push((origin, version));
            } else if let (Some(mine), Some(&check)) = (mine, checks.sums.get(i)) {
                if version == theirs && Checks::byte(checks.salt, mine.sum) != check {
                    let versions = mine.versions();
                    listed += versions.len();
                    if listed > MAX_HELD_VERSIONS {
                        break; // The rest at a later exchange.
                    }
                    held.push(Held { origin, versions });
                }
            }
        }
        self.effects.transmit(Transmit {
            to: from,
            message: KvMessage::SynAck {
                span,
                digest: Digest(behind),
                delta,
                held,
            },
        });
    }

    /// The hash of this replica's digest over `span`, each origin's entries' sum included
    /// ([`digest_hash`] of [`Origin::mark`]s).
    fn span_hash(&self, span: Span) -> u64 {
        if span.from > span.to {
            return 0; // (refused by validation; BTreeMap::range would panic)
        }
        digest_hash(
            self.origins
                .range(span.from..=span.to)
                .map(|(&origin, state)| (origin, state.mark())),
        )
    }

    /// Entries of the origins in `held` whose versions are not listed (`not_in`) or are
    /// listed (`!not_in`), added to `delta` within the budget (`bytes` so far).
    fn entries_by_held(
        &self,
        held: &[Held],
        not_in: bool,
        delta: &mut Vec<Entry>,
        bytes: &mut usize,
    ) {
        for h in held {
            let Some(origin) = self.origins.get(&h.origin) else {
                continue;
            };
            let mut entries: Vec<&Entry> = origin
                .entries
                .values()
                .filter(|e| h.versions.binary_search(&e.version).is_err() == not_in)
                .collect();
            entries.sort_unstable_by_key(|e| e.version);
            for e in entries {
                *bytes += e.size_estimate();
                if *bytes > DELTA_BUDGET_BYTES || delta.len() == MAX_DELTA_ENTRIES {
                    return;
                }
                delta.push(e.clone());
            }
        }
    }

    /// Of the versions `held` lists, those not held here (within [`MAX_HELD_VERSIONS`]).
    fn wanted(&self, held: &[Held]) -> Vec<Held> {
        let mut want = Vec::new();
        let mut listed = 0;
        for h in held {
            let mine = self.origins.get(&h.origin);
            let versions: Vec<u64> = h
                .versions
                .iter()
                .copied()
                .filter(|v| !mine.is_some_and(|o| o.entries.values().any(|e| e.version == *v)))
                .take(MAX_HELD_VERSIONS - listed)
                .collect();
            listed += versions.len();
            if !versions.is_empty() {
                want.push(Held {
                    origin: h.origin,
                    versions,
                });
            }
        }
        want
    }

    /// The highest version held of each origin: equal digests mean equal replicas.
    pub fn digest(&self) -> Digest {
        Digest(self.origins.iter().map(|(&o, s)| (o, s.version)).collect())
    }

    /// Every key known here, sorted.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .origins
            .values()
            .flat_map(|o| o.entries.keys().map(String::as_str))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    fn entries_for<'a, 'k>(
        &'a self,
        key: &'k str,
    ) -> impl Iterator<Item = &'a Entry> + use<'a, 'k> {
        self.origins
            .values()
            .filter_map(move |o| o.entries.get(key))
    }

    /// The entries `origin` wrote, by key.
    pub fn entries_of(&self, origin: NodeId) -> impl Iterator<Item = &Entry> + '_ {
        self.origins
            .get(&origin)
            .into_iter()
            .flat_map(|o| o.entries.values())
    }

    /// Last-writer-wins: the entry for `key` with the largest (timestamp, origin).
    pub fn lww(&self, key: &str) -> Option<&Entry> {
        self.entries_for(key)
            .max_by_key(|e| (e.timestamp, e.origin))
    }

    /// Vector clocks: the entries for `key` no other entry's clock dominates, by origin.
    /// More than one means concurrent writes (siblings).
    pub fn siblings(&self, key: &str) -> Vec<&Entry> {
        let all: Vec<&Entry> = self.entries_for(key).collect();
        all.iter()
            .copied()
            .filter(|e| !all.iter().any(|other| other.clock.dominates(&e.clock)))
            .collect()
    }

    /// Entries the holder of `digest` (covering `span`) lacks: per origin in version order,
    /// cut at the budget. `listed_only`: origins the digest does not name are skipped (the
    /// digest lists only where its holder is behind), rather than sent whole.
    fn delta_for(&self, span: Span, digest: &Digest, listed_only: bool) -> Vec<Entry> {
        self.delta_counted(span, digest, listed_only, &mut 0)
    }

    /// [`Self::delta_for`], adding the delta's estimated size to `bytes`.
    fn delta_counted(
        &self,
        span: Span,
        digest: &Digest,
        listed_only: bool,
        bytes: &mut usize,
    ) -> Vec<Entry> {
        let mut delta = Vec::new();
        if span.from > span.to {
            return delta; // (refused by validation; BTreeMap::range would panic)
        }
        for (&origin, state) in self.origins.range(span.from..=span.to) {
            if listed_only && digest.find(origin).is_none() {
                continue;
            }
            let have = digest.version_of(origin);
            if state.version <= have {
                continue;
            }
            let mut newer: Vec<&Entry> = state
                .entries
                .values()
                .filter(|e| e.version > have)
                .collect();
            newer.sort_unstable_by_key(|e| e.version);
            for e in newer {
                *bytes += e.size_estimate();
                if *bytes > DELTA_BUDGET_BYTES || delta.len() == MAX_DELTA_ENTRIES {
                    return delta;
                }
                delta.push(e.clone());
            }
        }
        delta
    }

    fn apply(&mut self, now: Millis, delta: Vec<Entry>) {
        for entry in delta {
            let held = self.origins.get(&entry.origin);
            let old = held.and_then(|o| o.entries.get(&entry.key));
            if old.is_some_and(|e| e.version >= entry.version) {
                continue;
            }
            if let Err(why) = self.admit(&entry, held.is_some(), old.is_some()) {
                if why == "not-in-room" {
                    self.refused_unknown(now, entry.origin);
                } else {
                    self.refusals.add(why);
                }
                continue;
            }
            if old.is_none() {
                self.entries += 1;
            }
            self.effects.emit(KvEvent::Changed {
                key: entry.key.clone(),
            });
            self.origins.entry(entry.origin).or_default().insert(entry);
        }
    }

    /// Signed members: whether a new entry is its origin's, and within the caps (`known`:
    /// the origin is held here; `replaces`: it replaces an entry for the same key).
    fn admit(&self, entry: &Entry, known: bool, replaces: bool) -> Result<(), &'static str> {
        if self.identity.is_none() {
            return Ok(());
        }
        if !known && !self.roster.admits(entry.origin) {
            return Err("not-in-room");
        }
        if !known && self.origins.len() >= MAX_SIGNED_ORIGINS {
            return Err("kv-writer-cap");
        }
        if !replaces {
            let keys = self
                .origins
                .get(&entry.origin)
                .map_or(0, |o| o.entries.len());
            if keys >= MAX_KEYS_PER_ORIGIN {
                return Err("kv-key-cap");
            }
            if self.entries >= MAX_SIGNED_ENTRIES {
                return Err("kv-entry-cap");
            }
        }
        let proof = entry.proof.ok_or("unsigned")?;
        proof
            .verify(entry.origin, &entry.statement())
            .map_err(|e| e.name())
    }

    fn write(&mut self, now: Millis, key: String, value: String) {
        if let Err(why) = check_key_value(&key, &value) {
            self.effects.emit(KvEvent::Refused(why));
            return;
        }
        // The write has seen every entry for the key held here.
        let mut clock = VClock::default();
        for e in self.entries_for(&key) {
            clock.join(&e.clock);
        }
        clock.increment(self.id);
        let timestamp = (now.0 as i64)
            .saturating_add(self.config.clock_offset_ms)
            .max(0) as u64;
        let own = self.origins.entry(self.id).or_default();
        if self.identity.is_some()
            && !own.entries.contains_key(&key)
            && own.entries.len() >= MAX_KEYS_PER_ORIGIN
        {
            self.effects.emit(KvEvent::Refused(
                "at most 64 keys per writer (peers refuse more)",
            ));
            return;
        }
        let Some(version) = own.version.checked_add(1) else {
            self.effects.emit(KvEvent::Refused("no write number left"));
            return;
        };
        let mut entry = Entry {
            origin: self.id,
            version,
            key: key.clone(),
            value,
            timestamp,
            clock,
            proof: None,
        };
        entry.proof = self.identity.as_ref().map(|i| i.sign(&entry.statement()));
        if !own.entries.contains_key(&key) {
            self.entries += 1;
        }
        own.insert(entry);
        self.effects.emit(KvEvent::Changed { key });
    }
}

impl Node for KvNode {
    type Message = KvMessage;
    type Command = KvCommand;
    type Event = KvEvent;

    fn id(&self) -> NodeId {
        self.id
    }

    fn handle_message(&mut self, now: Millis, from: NodeId, message: KvMessage) {
        match message {
            KvMessage::Syn {
                span,
                digest,
                checks,
            } => self.answer_digest(from, span, digest, &checks),
            KvMessage::Versions {
                span,
                origins,
                versions,
                checks,
            } => {
                if span.from > span.to {
                    return; // (refused by validation; BTreeMap::range would panic)
                }
                let ids: Vec<NodeId> = self
                    .origins
                    .range(span.from..=span.to)
                    .map(|(&o, _)| o)
                    .collect();
                if ids.len() != versions.len() || origins_hash(ids.iter().copied()) != origins {
                    return; // Met an origin since its summary: the next exchange starts again.
                }
                let digest = Digest(ids.into_iter().zip(versions).collect());
                self.answer_digest(from, span, digest, &checks);
            }
            KvMessage::SynAck {
                span,
                digest,
                delta,
                held,
            } => {
                self.apply(now, delta);
                let mut bytes = 0;
                let mut delta = self.delta_counted(span, &digest, true, &mut bytes);
                self.entries_by_held(&held, true, &mut delta, &mut bytes);
                let want = self.wanted(&held);
                if !delta.is_empty() || !want.is_empty() {
                    self.effects.transmit(Transmit {
                        to: from,
                        message: KvMessage::Ack { delta, want },
                    });
                }
            }
            KvMessage::Ack { delta, want } => {
                self.apply(now, delta);
                let mut delta = Vec::new();
                self.entries_by_held(&want, false, &mut delta, &mut 0);
                if !delta.is_empty() {
                    self.effects.transmit(Transmit {
                        to: from,
                        message: KvMessage::Ack {
                            delta,
                            want: Vec::new(),
                        },
                    });
                }
            }
            KvMessage::Summary {
                span,
                hash,
                origins,
            } => {
                if self.span_hash(span) == hash {
                    return; // In step over the span: nothing to say.
                }
                let (span, digest) = self.digest_from(span.from, span.to);
                let checks = self.checks_for(&digest);
                let message = if origins_hash(digest.0.iter().map(|&(o, _)| o)) == origins {
                    KvMessage::Versions {
                        span,
                        origins,
                        versions: digest.0.into_iter().map(|(_, v)| v).collect(),
                        checks,
                    }
                } else {
                    KvMessage::Syn {
                        span,
                        digest,
                        checks,
                    }
                };
                self.effects.transmit(Transmit { to: from, message });
            }
        }
    }

    fn handle_timeout(&mut self, now: Millis) {
        self.expire_unknown(now);
        if !self.round.due(now, self.config.interval_ms) {
            return;
        }
        let Some(to) = self.peers.random(&mut self.rng) else {
            return;
        };
        let (span, digest) = self.digest_from(self.next_span_from, NodeId(u64::MAX));
        // The next part, or the first again after the last.
        self.next_span_from = NodeId(span.to.0.checked_add(1).unwrap_or(0));
        let message = if self.config.summaries {
            KvMessage::Summary {
                span,
                hash: self.span_hash(span),
                origins: origins_hash(digest.0.into_iter().map(|(o, _)| o)),
            }
        } else {
            let checks = self.checks_for(&digest);
            KvMessage::Syn {
                span,
                digest,
                checks,
            }
        };
        self.effects.transmit(Transmit { to, message });
    }

    fn handle_peer(&mut self, _now: Millis, peer: NodeId, up: bool) {
        self.peers.set(self.id, peer, up);
    }

    fn handle_command(&mut self, now: Millis, command: KvCommand) {
        match command {
            KvCommand::Set { key, value } => self.write(now, key, value),
            KvCommand::Skew { offset_ms } => {
                self.config.clock_offset_ms =
                    offset_ms.clamp(-MAX_CLOCK_OFFSET_MS, MAX_CLOCK_OFFSET_MS)
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit<KvMessage>> {
        self.effects.poll_transmit()
    }

    fn poll_event(&mut self) -> Option<KvEvent> {
        self.effects.poll_event()
    }

    fn poll_timeout(&self) -> Option<Millis> {
        Some(self.round.next())
    }
}
