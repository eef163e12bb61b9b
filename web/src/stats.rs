//! The numbers of the run: round, informed, messages.

use grapevine_core::{Counts, RoundStats};
use yew::prelude::*;

/// Properties of [`Stats`].
#[derive(Properties, PartialEq)]
pub struct StatsProps {
    /// The last round's record (its traffic).
    pub last: RoundStats,
    /// Node counts now (crashes and revivals since the last round included).
    pub counts: Counts,
    /// All nodes.
    pub nodes: u32,
    /// The run's seed.
    pub seed: u64,
    /// The run is over.
    pub finished: bool,
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!("{:.1} %", 100.0 * part as f64 / whole as f64)
    }
}

/// Round, informed, messages, redundancy, loss and the seed.
#[function_component(Stats)]
pub fn stats(p: &StatsProps) -> Html {
    let c = p.counts;
    let t = p.last.total;
    let live = c.live();
    let state = if p.finished {
        if c.susceptible == 0 {
            "everyone live knows"
        } else {
            "the rumor died out"
        }
    } else if p.last.round == 0 {
        "ready"
    } else {
        "spreading"
    };
    html! {
        <section class="panel stats" aria-label="Statistics">
            <div class="stat"><span class="label">{ "Round" }</span>
                <span class="value" data-testid="round">{ p.last.round }</span>
                <span class="sub">{ state }</span></div>
            <div class="stat"><span class="label">{ "Informed" }</span>
                <span class="value" data-testid="informed">{ c.informed() }</span>
                <span class="sub">{ format!("{} of {} live", percent(c.informed().into(), live.into()), live) }</span></div>
            <div class="stat"><span class="label">{ "Messages" }</span>
                <span class="value" data-testid="messages">{ t.sent }</span>
                <span class="sub">{ format!("{:.2} per node · {} this round", t.sent as f64 / f64::from(p.nodes), p.last.traffic.sent) }</span></div>
            <div class="stat"><span class="label">{ "Redundant" }</span>
                <span class="value">{ percent(t.redundant, t.sent) }</span>
                <span class="sub">{ format!("{} told what they knew", t.redundant) }</span></div>
            <div class="stat"><span class="label">{ "Lost" }</span>
                <span class="value" data-testid="lost">{ t.lost }</span>
                <span class="sub">{ format!("on the way · {} more sent to crashed nodes", t.dead_letters) }</span></div>
            <div class="stat"><span class="label">{ "Spreading" }</span>
                <span class="value" data-testid="spreading">{ c.spreading }</span>
                <span class="sub">{ format!("{} stopped · {} unaware · {} crashed", c.stopped, c.susceptible, c.crashed) }</span></div>
            <div class="stat"><span class="label">{ "Seed" }</span>
                <span class="value" data-testid="seed-shown">{ p.seed }</span>
                <span class="sub">{ "same seed, same run" }</span></div>
        </section>
    }
}
