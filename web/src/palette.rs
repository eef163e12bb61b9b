//! Colours: the Okabe-Ito palette, which stays distinguishable with the common forms of colour
//! blindness, on a dark canvas.

/// Canvas background.
pub const BACKGROUND: &str = "#0f172a";
/// Does not know the rumor.
pub const SUSCEPTIBLE: &str = "#64748b";
/// Learnt the rumor this round.
pub const NEW: &str = "#f0e442";
/// Spreading the rumor.
pub const SPREADING: &str = "#e69f00";
/// Knows the rumor, stopped spreading it.
pub const STOPPED: &str = "#56b4e9";
/// Crashed.
pub const CRASHED: &str = "#cc79a7";
/// A message lost on the link.
pub const LOST: &str = "#d55e00";
/// A message that told a node something new.
pub const INFORMED: &str = NEW;
/// A message that told a node what it knew.
pub const REDUNDANT: &str = "#94a3b8";
/// A pull request.
pub const REQUEST: &str = "#009e73";
/// Outlines: the rumor's source, the inspected node.
pub const MARK: &str = "#ffffff";
/// Faint lines: edges of the graph.
pub const EDGE: &str = "rgba(148, 163, 184, 0.18)";

// The protocol lab's colours, from the same palette.

/// SWIM: a member believed alive.
pub const ALIVE: &str = "#1b6b58";
/// SWIM: a suspected member (the colour of news).
pub const SUSPECT: &str = NEW;
/// SWIM: a member declared dead; push-sum: the worst error (the colour of loss).
pub const DEAD: &str = LOST;
/// SWIM: a member that left (the colour of "done").
pub const LEFT: &str = STOPPED;
/// SWIM: a member the observer never heard of.
pub const UNKNOWN: &str = "#1e293b";
/// SWIM: the observer itself.
pub const SELF: &str = "#475569";
/// A running member's row band; a crashed node in the lab's grids.
pub const DOWN: &str = "#334155";
/// Key-value: replica states by rank (0: the most common), all distinguishable.
pub const STATE_COLOURS: [&str; 6] = ["#009e73", SPREADING, STOPPED, NEW, "#0072b2", LOST];
/// Key-value: a rarer state than the palette has colours for; push-sum: no estimate yet.
pub const OTHER_STATE: &str = REDUNDANT;
/// Push-sum: an estimate within 10^-8 (the good end of the error scale).
pub const EXACT: &str = "#009e73";
/// Push-sum: weight off the nodes.
pub const MASS: &str = "#0072b2";
/// A bound or a theory drawn over a measured line.
pub const BOUND: &str = DOWN;

/// A lab message's colour, by its protocol ([`LabProtocol::name`]) and kind
/// ([`wire::Message::kind`]): one colour per kind, the same in every picture and legend. A
/// request and its answer differ in colour as well as in glyph (filled, hollow), so a probe
/// and its ack read apart where lines cross.
///
/// [`LabProtocol::name`]: grapevine_core::lab::LabProtocol::name
/// [`wire::Message::kind`]: grapevine_core::lab::wire::Message::kind
pub fn message(protocol: &str, kind: &str) -> &'static str {
    const SKY: &str = "#38bdf8";
    const VIOLET: &str = "#c4b5fd";
    const AMBER: &str = "#fcd34d";
    match (protocol, kind) {
        // SWIM: the probe, its answer, the request to probe for someone, Lifeguard's nack.
        ("swim", "ping") => SKY,
        ("swim", "ack") => VIOLET,
        ("swim", "ping-req") => "#fb923c",
        ("swim", "nack") => "#f87171",
        // Push-sum's share of sum and weight.
        (_, "share") => "#f472b6",
        // Key-value anti-entropy: a digest, a digest with deltas, the last deltas.
        (_, "syn") => SKY,
        (_, "syn-ack") => VIOLET,
        ("kv", "ack") => AMBER,
        // Rumors: the rumor pushed, "any news?", the news in answer, "I knew it".
        (_, "push") => SPREADING,
        (_, "pull") => REQUEST,
        (_, "pull-reply") => AMBER,
        (_, "feedback") => REDUNDANT,
        // The rest: a join and its sync, a push-pull, a want, a live room's summaries (SWIM's
        // and the key-value map's), the link's own.
        _ => "#e2e8f0",
    }
}

/// `#rrggbb` as RGBA bytes, for the dense view's pixel buffer.
pub const fn rgba(hex: &str) -> [u8; 4] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => 0,
        }
    }
    let b = hex.as_bytes();
    [
        nibble(b[1]) * 16 + nibble(b[2]),
        nibble(b[3]) * 16 + nibble(b[4]),
        nibble(b[5]) * 16 + nibble(b[6]),
        255,
    ]
}

/// A comparison's series, in order (Okabe-Ito without its yellow, which a white chart loses).
pub const SERIES: [&str; 7] = [
    "#e69f00", "#0072b2", "#009e73", "#d55e00", "#56b4e9", "#cc79a7", "#000000",
];
