//! A few plain words on what the chosen protocol does and what to expect.

use crate::controls::{protocol_label, stop_label};
use grapevine_core::theory::{feedback_coin_residue, push_rounds_asymptotic};
use grapevine_core::{Protocol, Settings, StopRule, Topology};
use yew::prelude::*;

/// Properties of [`Explain`].
#[derive(Properties, PartialEq)]
pub struct ExplainProps {
    /// Current settings.
    pub settings: Settings,
    /// Expected rounds to inform every live node (theory, complete graph, anti-entropy).
    pub expected_rounds: Option<u32>,
}

fn protocol_words(p: Protocol) -> &'static str {
    match p {
        Protocol::Push => "Every round, each node that knows the rumor tells a few random peers (the fanout). \
            Early on almost every message brings news and the informed count roughly doubles each round; \
            near the end most messages go to nodes that already know, so the last few nodes take a while.",
        Protocol::Pull => "Every round, each node that does not know the rumor asks a few random peers \"any news?\", \
            and a peer that knows answers with the rumor. Slow to start (few can answer), then very fast: \
            once half know, the unaware fraction squares every round.",
        Protocol::PushPull => "Every round, nodes that know push the rumor and nodes that don't pull it. \
            Push is strong at the start, pull at the end: together they are the fastest.",
    }
}

fn stop_words(r: StopRule, k: u8) -> String {
    match r {
        StopRule::Never => "Anti-entropy: nodes never stop, so everyone is reached, at the price of messages that keep flowing.".into(),
        StopRule::FeedbackCounter => format!("Rumor mongering: a node stops after {k} messages to nodes that already knew. Cheaper, but some nodes may never hear."),
        StopRule::FeedbackCoin => format!("Rumor mongering: each time a node tells someone who already knew, it stops with probability 1/{k}. With push, about {:.1} % never hear (Demers et al.: s = e^-(k+1)(1-s)).", 100.0 * feedback_coin_residue(k.into())),
        StopRule::BlindCounter => format!("Rumor mongering: a node stops after {k} messages, whatever the answers."),
        StopRule::BlindCoin => format!("Rumor mongering: after each message, a node stops with probability 1/{k}, whatever the answer."),
    }
}

/// The explanation panel.
#[function_component(Explain)]
pub fn explain(p: &ExplainProps) -> Html {
    let s = &p.settings;
    let expected = match p.expected_rounds {
        Some(r) => format!("Theory expects every live node to know after about {r} rounds"),
        None => "With this much loss, theory expects the rumor never to reach everyone".into(),
    };
    let topology_note = if s.topology == Topology::Complete {
        String::new()
    } else {
        " (on the complete graph; on this topology peers are only neighbours, so expect it slower)"
            .into()
    };
    html! {
        <section class="panel explain" aria-label="What you see">
            <h2>{ format!("{} · {}", protocol_label(s.protocol), stop_label(s.tunables.interest.rule)) }</h2>
            <p>{ protocol_words(s.protocol) }</p>
            <p>{ stop_words(s.tunables.interest.rule, s.tunables.interest.k) }</p>
            <p class="expect">{ format!("{expected}{topology_note}.") }
                if s.protocol == Protocol::Push && s.tunables.fanout == 1 {
                    { format!(" Classic result for push: log₂N + ln N ≈ {:.1} rounds.", push_rounds_asymptotic(s.nodes)) }
                }
            </p>
        </section>
    }
}
