//! The lab's run and its time: [`LabSim`] (a protocol's run over the simulated network,
//! advanced frame by frame), [`PERIOD_MS`] (the lab's "round"), times for people
//! ([`seconds`], [`periods`]), and whether a link's scenario fits its protocol
//! ([`scenario_notice`]). A leaf of the lab: the views and panels read it, it knows neither.

use crate::params::PageSettings;
use grapevine_core::lab::net::{Flight, LinkConfig, NetStats, Note};
use grapevine_core::lab::protocol::{Log, Phases};
use grapevine_core::lab::run::LabSettings;
use grapevine_core::lab::scenario::{preset, Scenario};
use grapevine_core::lab::{
    AnyRun, LabOptions, LabProtocol, Millis, ProtocolSpec, Run, QUIET_SCENARIO,
};

/// SWIM's protocol period and the other protocols' gossip interval, ms: a "round" of the
/// lab, the unit of its speed control and of its charts' time axes.
pub const PERIOD_MS: u64 = 1_000;

/// Up to this many members the lab records every message and can draw those of the last
/// period, members on a circle (see `LabSim::draw`); beyond, each protocol's own dense
/// picture.
pub const MESSAGES_MAX_MEMBERS: u32 = 50;

/// Seconds, for people: `12.3 s`.
pub fn seconds(t: Millis) -> String {
    format!("{:.1} s", t.0 as f64 / 1000.0)
}

/// Periods between two times, for people.
pub fn periods(from: Millis, to: Millis) -> String {
    format!("{:.2}", to.since(from) as f64 / PERIOD_MS as f64)
}

/// Says why the scenario the settings name cannot run with their protocol (it does not read,
/// names an operation no protocol takes, a malformed one of its own, or a node that does not
/// exist), or `None`. The lab's part says it on arrival; the scenario stays in the editor to
/// mend.
pub fn scenario_notice(settings: &PageSettings) -> Option<String> {
    let (info, text) = (settings.lab.protocol?, settings.lab.scenario.as_deref()?);
    let scenario = Scenario::parse(preset(text).unwrap_or(text));
    let error = scenario
        .and_then(|sc| LabProtocol::of_info(info).check(&sc, settings.run.nodes))
        .err()?;
    Some(format!(
        "The scenario in the link cannot run ({error}); it is in the scenario editor to mend."
    ))
}

/// The lab run the page shows: any protocol's [`Run`], whose observer computes every
/// figure the panels show (the same code as `grapevine sim`'s). Its view is
/// `LabSim::view` (defined with the views, which read this run: it does not know them).
pub struct LabSim {
    /// Which protocol.
    pub protocol: LabProtocol,
    /// The scenario it plays.
    pub scenario: Scenario,
    run: Box<dyn AnyRun>,
    /// The settings it was made from: going back is replaying them.
    settings: PageSettings,
}

impl LabSim {
    /// The scenario text the settings ask for: theirs, a preset's, or the protocol's default.
    pub fn scenario_text(settings: &PageSettings, protocol: LabProtocol) -> String {
        let given = settings.lab.scenario.as_deref();
        match given.or(protocol.default_scenario()) {
            Some(name_or_text) => preset(name_or_text).unwrap_or(name_or_text).to_string(),
            None => QUIET_SCENARIO.into(),
        }
    }

    /// The lab's options from the page's settings.
    pub fn options(settings: &PageSettings) -> LabOptions {
        LabOptions {
            interval_ms: PERIOD_MS as u32,
            lifeguard: settings.lab.lifeguard,
            push_pull: settings.lab.push_pull,
            aggregate: settings.lab.aggregate,
            mode: settings.run.protocol,
            fanout: settings.run.tunables.fanout,
            interest: settings.run.tunables.interest,
        }
    }

    /// A run at time 0. Fails with a sentence for the page if the settings or the scenario
    /// cannot run.
    pub fn new(settings: &PageSettings, protocol: LabProtocol) -> Result<LabSim, String> {
        let scenario = Scenario::parse(&Self::scenario_text(settings, protocol))
            .map_err(|e| format!("The scenario cannot run: {e}."))?;
        let lab = LabSettings {
            nodes: settings.run.nodes,
            seed: settings.run.seed,
            link: LinkConfig {
                loss: settings.run.tunables.loss,
                ..LinkConfig::default()
            },
            scenario: scenario.clone(),
            phases: Phases::Random,
        };
        let mut run = protocol
            .start(&lab, &Self::options(settings))
            .map_err(|e| format!("These settings cannot run: {e}."))?;
        run.record_traffic(settings.run.nodes <= MESSAGES_MAX_MEMBERS);
        Ok(LabSim {
            protocol,
            scenario,
            run,
            settings: settings.clone(),
        })
    }

    /// Where Back goes: the start of the period before now (`None` at 0).
    pub fn back_target(&self) -> Option<Millis> {
        let now = self.now().0;
        (now > 0).then(|| Millis((now - 1) / PERIOD_MS * PERIOD_MS))
    }

    /// The same run replayed from 0 to `to` (at most its end): a run only goes forward, so
    /// going back is playing again, exactly, from the settings and the seed.
    pub fn replayed_to(&self, to: Millis) -> Result<LabSim, String> {
        let mut again = LabSim::new(&self.settings, self.protocol)?;
        again.advance_to(to.min(again.end()))?;
        Ok(again)
    }

    /// The run's figures so far, by name (the observer's, as `grapevine sim` prints them).
    pub fn figures(&self) -> Vec<grapevine_core::lab::protocol::Figure> {
        self.run.figures()
    }

    /// The run's time.
    pub fn now(&self) -> Millis {
        self.run.now()
    }

    /// When the scenario ends.
    pub fn end(&self) -> Millis {
        self.run.end()
    }

    /// Whether the scenario has played to its end.
    pub fn is_finished(&self) -> bool {
        self.now() >= self.end()
    }

    /// Nodes ever in the run (joined ones included).
    pub fn len(&self) -> u32 {
        self.run.len()
    }

    /// Whether the run has no node (never: a run starts with two at least).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Nodes at the start of the run.
    pub fn initial_nodes(&self) -> u32 {
        self.run.initial_nodes()
    }

    /// Whether node `i` is running.
    pub fn is_up(&self, i: u32) -> bool {
        self.run.is_up(i)
    }

    /// What the links carried.
    pub fn stats(&self) -> NetStats {
        self.run.stats()
    }

    /// The links' loss now.
    pub fn loss(&self) -> f64 {
        self.run.link().loss
    }

    /// The newest messages of the watched node, oldest first.
    pub fn notes(&self) -> Vec<Note> {
        self.run.notes()
    }

    /// The messages sent during the last period, `(now - period, now]`, oldest first (none
    /// beyond [`MESSAGES_MAX_MEMBERS`] members, where nothing is recorded): at one period a
    /// step, each member's probe or exchange appears exactly once.
    pub fn last_period(&self) -> Vec<Flight> {
        let since = Millis((self.now().0 + 1).saturating_sub(PERIOD_MS));
        self.run.traffic_since(since)
    }

    /// Notes node `i`'s messages from now on.
    pub fn watch(&mut self, i: Option<u32>) {
        self.run.watch(i)
    }

    /// The run's log.
    pub fn log(&self) -> &Log {
        self.run.log()
    }

    /// The run as protocol `P`'s, if it is one (what its view reads).
    pub fn run<P: ProtocolSpec>(&self) -> Option<&Run<P>> {
        self.run.downcast()
    }

    /// Advances the run by `ms` (to the end at most), sampling at every period boundary.
    pub fn advance_by(&mut self, ms: u64) -> Result<(), String> {
        let target = self.now().after(ms).min(self.end());
        self.advance_to(target)
    }

    /// Advances to the next period boundary (one "round").
    pub fn step(&mut self) -> Result<(), String> {
        let next = (self.now().0 / PERIOD_MS + 1) * PERIOD_MS;
        self.advance_to(Millis(next).min(self.end()))
    }

    /// Advances to `target`, sampling at every period boundary on the way.
    pub fn advance_to(&mut self, target: Millis) -> Result<(), String> {
        self.run
            .advance_to(target)
            .map_err(|e| format!("The run stopped: {e}."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_scenario_in_the_link_is_kept_for_mending_with_a_notice() {
        let (s, notices) = PageSettings::from_query("protocol=swim&scenario=at+5s+explode+1");
        assert_eq!(s.lab.scenario.as_deref(), Some("at 5s explode 1"));
        // Reading the URL names no protocol's code; the lab says what is wrong on arrival.
        assert!(notices.is_empty(), "{notices:?}");
        let notice = scenario_notice(&s).expect("a notice");
        assert!(notice.contains("unknown operation"), "{notice}");
        let (fine, _) = PageSettings::from_query("protocol=swim&scenario=crash-one");
        assert_eq!(scenario_notice(&fine), None);
    }
}
