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
/// Faint lines: edges of the graph.
pub const EDGE: &str = "rgba(148, 163, 184, 0.18)";

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
