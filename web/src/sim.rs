//! The run behind the page: the core's round engine with its past (a [`Timeline`], so the view
//! can step back and scrub), plus what the view keeps beside it (the theory curve, the previous
//! run's ghost curve). It lives outside Yew's state: a million-node engine is not cloned per
//! frame.

use crate::params::PageSettings;
use grapevine_core::theory::Model;
use grapevine_core::timeline::Timeline;
use grapevine_core::{RoundEngine, Settings, SettingsError};

/// Rounds the theory curve reaches beyond the expected end.
const THEORY_TAIL: u32 = 5;

/// A finished or abandoned run, drawn faintly under the current one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ghost {
    /// Informed fraction of live nodes per round.
    pub informed: Vec<f64>,
    /// Messages sent per round.
    pub messages: Vec<u64>,
    /// What it was, in words.
    pub label: String,
}

/// The current run.
pub struct Sim {
    /// The core engine and its past: the round shown, which may be before the last played.
    pub timeline: Timeline,
    /// Expected informed fraction per round for the current settings (anti-entropy).
    pub theory: Vec<f64>,
    /// The previous run.
    pub ghost: Option<Ghost>,
    /// The settings this run started with, in words (its ghost's label).
    started_as: String,
    /// A live setting changed after the first round.
    changed_mid_run: bool,
}

fn describe(s: &Settings) -> String {
    format!(
        "{} · fanout {} · loss {:.0}% · stop {}",
        s.protocol.name(),
        s.tunables.fanout,
        s.tunables.loss * 100.0,
        s.tunables.interest.rule.name()
    )
}

/// Messages drawn as arrows per round, at most.
pub const ARROW_CAP: usize = 1_000;

impl Sim {
    /// A new run at round 0.
    pub fn new(settings: Settings) -> Result<Sim, SettingsError> {
        let mut engine = RoundEngine::new(settings)?;
        // The view reads every node every frame and the timeline copies them: cheaper kept
        // in step by each round than caught up from the bit sets each time.
        engine.keep_node_bytes(true);
        // Arrows are drawn only in the readable layout; without them large runs take the
        // engine's fastest path.
        if settings.nodes <= crate::draw::LAYOUT_MAX_NODES {
            engine.set_arrow_cap(ARROW_CAP);
        }
        let started_as = describe(engine.settings());
        let mut sim = Sim {
            timeline: Timeline::new(engine),
            theory: Vec::new(),
            ghost: None,
            started_as,
            changed_mid_run: false,
        };
        sim.recompute_theory();
        Ok(sim)
    }

    /// Starts over with `settings`, keeping this run as the ghost if it played at all.
    pub fn restart(&mut self, settings: Settings) -> Result<(), SettingsError> {
        let mut next = Sim::new(settings)?;
        next.ghost = if self.timeline.end() > 0 {
            Some(self.as_ghost())
        } else {
            self.ghost.take()
        };
        *self = next;
        Ok(())
    }

    fn as_ghost(&self) -> Ghost {
        let changed = if self.changed_mid_run {
            " (changed while playing)"
        } else {
            ""
        };
        let history = self.timeline.history();
        Ghost {
            informed: history.iter().map(informed_fraction).collect(),
            messages: history.iter().skip(1).map(|h| h.traffic.sent).collect(),
            label: format!("{}{changed}", self.started_as),
        }
    }

    /// The engine at the round shown.
    pub fn engine(&self) -> &RoundEngine {
        self.timeline.engine()
    }

    /// Changes the run at the round shown (a new branch if it was rewound), then recomputes
    /// the theory from there.
    pub fn change<R>(&mut self, f: impl FnOnce(&mut RoundEngine) -> R) -> R {
        let result = self.timeline.change(f);
        self.recompute_theory();
        result
    }

    /// Shows round `round` of this run as it was played.
    pub fn seek(&mut self, round: u32) {
        self.timeline.seek(round);
        self.recompute_theory();
    }

    /// A live setting changed: the theory follows, and a run under way is marked as changed.
    pub fn tunables_changed(&mut self) {
        let e = self.engine();
        if e.round() > 0 && !e.is_finished() {
            self.changed_mid_run = true;
        }
        self.recompute_theory();
    }

    /// Informed fraction of live nodes after each round so far.
    pub fn informed_curve(&self) -> Vec<f64> {
        self.engine()
            .history()
            .iter()
            .map(informed_fraction)
            .collect()
    }

    /// The theory curve for the current settings, continued from the current round's
    /// measured point (the part before it stays as it was drawn).
    pub fn recompute_theory(&mut self) {
        let e = self.timeline.engine();
        let s = e.settings();
        let counts = e.counts();
        let model = Model::of(s, counts.live());
        let round = e.round() as usize;
        let from = if round == 0 {
            1.0
        } else {
            f64::from(counts.informed())
        };
        let horizon = model.expected_rounds_from(from, 2_000).unwrap_or(200) + THEORY_TAIL;
        self.theory.truncate(round);
        self.theory
            .extend(model.informed_fractions_from(from, horizon));
    }

    /// Expected rounds to inform everyone from the start under the current settings.
    pub fn expected_rounds(settings: &PageSettings, live_nodes: u32) -> Option<u32> {
        Model::of(&settings.run, live_nodes).expected_rounds(2_000)
    }
}

fn informed_fraction(h: &grapevine_core::RoundStats) -> f64 {
    f64::from(h.counts.informed()) / f64::from(h.counts.live().max(1))
}
