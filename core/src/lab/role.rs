//! Why a message was sent and what alarm it carries, for the pictures: a leaf every
//! protocol's message names, so the network and the page read them knowing no protocol.

/// Why a message was sent: on its sender's own initiative (a probe, a push, a share, a
/// digest), or in answer to another message. Every picture draws the first as a filled dot
/// and the second as a hollow one, so a request and its reply read the same in every view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sent because the sender's timer or a user said so.
    Initiative,
    /// Sent because a message arrived.
    Reply,
}

/// The gravest membership news a message carries (SWIM piggybacks news on its probes): a
/// picture rings the messages that spread one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Alarm {
    /// A member is suspected.
    Suspicion,
    /// A member is declared dead.
    Death,
}
