//! Why a message was sent, for the pictures: a leaf every protocol's message names.

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
