//! What one member believes of another: a [`MemberState`] at an [`Incarnation`] (together,
//! a [`MemberView`]), and the [`SwimEvent`] that tells the view when that belief changes. The
//! vocabulary every other SWIM file speaks (the wire messages carry it, the membership table
//! keeps it, SWIM's override rules compare it), so it is a leaf: it imports no sibling.

use crate::lab::NodeId;
use serde::{Deserialize, Serialize};

/// A member's incarnation number: only the member itself raises it, to refute a suspicion or
/// when it restarts; a higher incarnation's news overrides a lower one's.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Incarnation(pub u32);

/// What a member believes of another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MemberState {
    /// Answering probes.
    Alive,
    /// Missed a probe; declared dead unless it refutes in time.
    Suspect,
    /// Declared failed.
    Dead,
    /// Left gracefully.
    Left,
}

impl MemberState {
    /// The word shown in the page and written in JSON.
    pub fn name(self) -> &'static str {
        match self {
            MemberState::Alive => "alive",
            MemberState::Suspect => "suspect",
            MemberState::Dead => "dead",
            MemberState::Left => "left",
        }
    }

    /// Whether a member in this state is probed (and probes).
    pub fn is_member(self) -> bool {
        matches!(self, MemberState::Alive | MemberState::Suspect)
    }
}

/// One member's view of another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberView {
    /// Its state here.
    pub state: MemberState,
    /// Its incarnation as known here.
    pub incarnation: Incarnation,
}

/// What a SWIM member reports to the view.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SwimEvent {
    /// This member's view of `member` changed.
    Member {
        /// Who.
        member: NodeId,
        /// Its new state here.
        state: MemberState,
        /// At which incarnation.
        incarnation: Incarnation,
    },
    /// This member refuted a suspicion of itself by raising its incarnation.
    Refuted(Incarnation),
}
