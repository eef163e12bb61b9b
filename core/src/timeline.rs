//! Rewind: a run's past kept so that any round played can be shown again exactly, and a
//! change made there starts a new branch whose old future is dropped (as RaftScope does).
//!
//! A [`Timeline`] wraps the [`RoundEngine`] and keeps a [`Snapshot`] of the end of every
//! round while they fit in a byte budget (two bytes a node at most: at 10^6 nodes a push run
//! of ~35 rounds holds ~35 MB). Past the budget it keeps every second, then every fourth round
//! and so on, and shows a round in between by playing on from the checkpoint before it: the
//! engine is deterministic, so the replayed round is the one first played. A round where the
//! user changed something (a setting, a crashed node) is always kept, so replay never has
//! to remember a change: from any checkpoint to the next, the run only plays.

use crate::engine::{RoundEngine, Snapshot};
use crate::metrics::RoundStats;
use alloc::vec::Vec;

/// What a timeline keeps in snapshots by default before it thins them out: 192 MiB.
pub const DEFAULT_BUDGET: usize = 192 << 20;

/// A run with its past. Read the state shown with [`Timeline::engine`]; move with
/// [`Timeline::step`], [`Timeline::back`], [`Timeline::seek`]; change the run with
/// [`Timeline::change`].
#[derive(Clone, Debug)]
pub struct Timeline {
    engine: RoundEngine,
    /// Checkpoints by round (index = round); `None` where none is kept.
    checkpoints: Vec<Option<Checkpoint>>,
    /// Every round's record of this branch, round 0 first.
    history: Vec<RoundStats>,
    /// Checkpoints kept at rounds that are multiples of this (besides the pinned ones).
    stride: u32,
    budget: usize,
    bytes: usize,
}

#[derive(Clone, Debug)]
struct Checkpoint {
    snapshot: Snapshot,
    /// A change was made at this round: never thinned out.
    pinned: bool,
}

impl Timeline {
    /// `engine`'s run from its current round on, with the default budget.
    pub fn new(engine: RoundEngine) -> Timeline {
        Timeline::with_budget(engine, DEFAULT_BUDGET)
    }

    /// `engine`'s run, keeping about `budget` bytes of snapshots.
    pub fn with_budget(engine: RoundEngine, budget: usize) -> Timeline {
        let mut timeline = Timeline {
            history: engine.history().to_vec(),
            engine,
            checkpoints: Vec::new(),
            stride: 1,
            budget,
            bytes: 0,
        };
        timeline.keep(true);
        timeline
    }

    /// The run at the round shown.
    pub fn engine(&self) -> &RoundEngine {
        &self.engine
    }

    /// The round shown.
    pub fn round(&self) -> u32 {
        self.engine.round()
    }

    /// The last round this branch has played (the slider's end).
    pub fn end(&self) -> u32 {
        self.history.len() as u32 - 1
    }

    /// Every record of this branch, the rounds after the one shown included.
    pub fn history(&self) -> &[RoundStats] {
        &self.history
    }

    /// Whether the round shown is the last one played.
    pub fn at_end(&self) -> bool {
        self.round() == self.end()
    }

    /// One round on: the next round of this branch if it was played, else a new round.
    pub fn step(&mut self) {
        if !self.at_end() {
            return self.seek(self.round() + 1);
        }
        self.engine.step();
        self.history.push(*self.engine.last());
        self.keep(false);
    }

    /// One round on in which `from` tells `to` ([`RoundEngine::step_steered`]); a new branch
    /// if the round shown is not the last one played.
    pub fn step_steered(&mut self, from: u32, to: u32) -> Result<(), crate::SettingsError> {
        self.branch();
        self.engine.step_steered(from, to)?;
        self.history.push(*self.engine.last());
        self.keep(false);
        Ok(())
    }

    /// One round back; false at round 0.
    pub fn back(&mut self) -> bool {
        match self.round() {
            0 => false,
            r => {
                self.seek(r - 1);
                true
            }
        }
    }

    /// Shows `round` (at most [`Timeline::end`]) exactly as it was played.
    pub fn seek(&mut self, round: u32) {
        let round = round.min(self.end());
        if round == self.round() {
            return;
        }
        let from = if round > self.round() && self.nearest(round) <= self.round() {
            // Playing on from here is no longer than from the checkpoint.
            self.round()
        } else {
            let at = self.nearest(round);
            let snapshot = &self.checkpoints[at as usize]
                .as_ref()
                .expect("kept")
                .snapshot;
            self.engine.restore(snapshot, &self.history[..=at as usize]);
            at
        };
        for _ in from..round {
            self.engine.step();
        }
        debug_assert_eq!(self.engine.last(), &self.history[round as usize]);
    }

    /// Changes the run at the round shown: the rounds after it are dropped (a new branch
    /// starts here), `f` applies the change, and this round is kept with it.
    pub fn change<R>(&mut self, f: impl FnOnce(&mut RoundEngine) -> R) -> R {
        self.branch();
        let result = f(&mut self.engine);
        // The start's record follows a moved source.
        if let Some(first) = self
            .history
            .first_mut()
            .filter(|_| self.engine.round() == 0)
        {
            *first = self.engine.history()[0];
        }
        self.keep(true);
        result
    }

    /// Drops the rounds after the one shown.
    fn branch(&mut self) {
        let round = self.round() as usize;
        self.history.truncate(round + 1);
        for dropped in self.checkpoints.drain(round + 1..).flatten() {
            self.bytes -= dropped.snapshot.bytes();
        }
    }

    /// The last checkpoint at or before `round`.
    fn nearest(&self, round: u32) -> u32 {
        (0..=round)
            .rev()
            .find(|&r| matches!(self.checkpoints.get(r as usize), Some(Some(_))))
            .expect("round 0 is always kept")
    }

    /// Keeps the round shown (always when `pinned` or at round 0), then thins the
    /// checkpoints while they exceed the budget.
    fn keep(&mut self, pinned: bool) {
        let round = self.round();
        let pinned = pinned || round == 0;
        if self.checkpoints.len() <= round as usize {
            self.checkpoints.resize(round as usize + 1, None);
        }
        let slot = &mut self.checkpoints[round as usize];
        if let Some(old) = slot.take() {
            self.bytes -= old.snapshot.bytes();
        }
        if pinned || round.is_multiple_of(self.stride) {
            let snapshot = self.engine.snapshot();
            self.bytes += snapshot.bytes();
            *slot = Some(Checkpoint { snapshot, pinned });
        }
        while self.bytes > self.budget && self.stride < u32::MAX / 2 {
            self.stride *= 2;
            let stride = self.stride;
            let mut freed = 0;
            for (r, slot) in self.checkpoints.iter_mut().enumerate() {
                if slot
                    .as_ref()
                    .is_some_and(|c| !c.pinned && !(r as u32).is_multiple_of(stride))
                {
                    freed += slot.take().map_or(0, |c| c.snapshot.bytes());
                }
            }
            self.bytes -= freed;
            if self.checkpoints.iter().flatten().all(|c| c.pinned) {
                break;
            }
        }
    }

    /// Bytes the checkpoints hold now.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}
