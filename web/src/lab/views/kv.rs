//! The key-value map's view: a grid coloured by replica state (one colour = converged), the
//! share of replicas agreeing over time, a replica's map read both ways, and every key across
//! the replicas.

use super::super::sim::LabSim;
use super::protocol_view::{Chart, ProtocolView};
use crate::charts::{Axis, Series};
use crate::controls::Change;
use crate::palette::{self, DOWN, OTHER_STATE, STATE_COLOURS};
use crate::stats::stat;
use grapevine_core::lab::kv::{Entry, KeyAcross, KvObserver, Spec};
use grapevine_core::lab::scenario::{Command, Op};
use grapevine_core::lab::Run;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// The key-value map's view.
pub struct Kv;

fn run(sim: &LabSim) -> Option<&Run<Spec>> {
    sim.run::<Spec>()
}

fn entry_text(e: &Entry) -> String {
    format!("{} (node {}, t={} ms)", e.value, e.origin.0, e.timestamp)
}

impl ProtocolView for Kv {
    fn name(&self) -> &'static str {
        "kv"
    }

    fn what(&self) -> &'static str {
        "Every interval (1 s), each replica starts a three-way anti-entropy exchange (scuttlebutt) with a random replica: \
         digests of what each holds, then the entries the other lacks. Reads are resolved two ways on the same data: \
         last-writer-wins on (timestamp, node) keeps one value; vector clocks keep concurrent writes as siblings."
    }

    fn picture(&self) -> &'static str {
        "Each cell is a replica, coloured by its state: replicas holding the same entries share a colour, so convergence is \
         the grid turning one colour. Click a replica to read it and write to it."
    }

    fn message_text(&self) -> &'static str {
        "Every period each replica starts one anti-entropy exchange with a random replica: a digest of the versions it \
         holds (syn, blue); the other answers with the entries the first lacks and its own digest (syn-ack, violet), and \
         the first sends back what the other lacks (ack, amber). When replicas agree, only digests travel."
    }

    fn legend(&self) -> (Vec<(&'static str, &'static str)>, Option<&'static str>) {
        (
            vec![
                (STATE_COLOURS[0], "most common state"),
                (STATE_COLOURS[1], "second"),
                (STATE_COLOURS[2], "third (and so on)"),
                (DOWN, "crashed"),
            ],
            None,
        )
    }

    fn stats(&self, sim: &LabSim) -> Html {
        let Some(run) = run(sim) else { return html! {} };
        let (agree, states) = run
            .samples()
            .last()
            .map_or((1.0, 1), |(_, s)| (s.agree, s.states));
        stat(
            "Replicas agreeing",
            format!("{:.0} %", agree * 100.0),
            Some("lab-agree"),
            Some(format!("{states} distinct states").into()),
        )
    }

    fn chart(&self, sim: &LabSim) -> Option<Chart> {
        Some(Chart {
            title: "Share of live replicas in the most common state",
            label: "Replica agreement over time",
            axis: Axis::Linear {
                min_top: 1.0,
                percent: true,
            },
            series: vec![Series::of(run(sim)?.samples(), STATE_COLOURS[0], |s| {
                s.agree
            })],
            key: vec![(STATE_COLOURS[0], "agreeing replicas")],
        })
    }

    fn inspector(&self, sim: &LabSim, i: u32, on_change: &Callback<Change>) -> Html {
        let Some(run) = run(sim) else { return html! {} };
        let node = run.lab().network().node(i);
        let (key_input, value_input) = (NodeRef::default(), NodeRef::default());
        let set = {
            let cb = on_change.clone();
            let (k, v) = (key_input.clone(), value_input.clone());
            Callback::from(move |_: MouseEvent| {
                let read = |r: &NodeRef| {
                    r.cast::<HtmlInputElement>()
                        .map(|el| el.value().trim().to_string())
                        .unwrap_or_default()
                };
                let (key, value) = (read(&k), read(&v));
                cb.emit(Change::AddStep(Op::Command(Command::new(
                    "set",
                    i,
                    &format!("{key} {value}"),
                ))));
            })
        };
        let keys = node.keys();
        html! { <>
            <table class="kv">
                <thead><tr><th>{ "key" }</th><th>{ "last writer wins" }</th><th>{ "vector clocks" }</th></tr></thead>
                <tbody>
                { for keys.iter().map(|k| {
                    let siblings = node.siblings(k);
                    let conflict = siblings.len() > 1;
                    html! { <tr class={classes!(conflict.then_some("conflict"))} data-testid="inspect-key" data-key={k.to_string()}>
                        <td>{ *k }</td>
                        <td>{ node.lww(k).map(entry_text).unwrap_or_default() }</td>
                        <td>{ if conflict {
                            format!("{} siblings: {}", siblings.len(), siblings.iter().map(|e| e.value.as_str()).collect::<Vec<_>>().join(" | "))
                        } else {
                            siblings.first().map(|e| e.value.clone()).unwrap_or_default()
                        } }</td>
                    </tr> }
                }) }
                </tbody>
            </table>
            if keys.is_empty() { <p class="muted">{ "No entries yet." }</p> }
            <div class="add-now kv-write">
                <input ref={key_input} type="text" placeholder="key" aria-label="Key" data-testid="inspect-kv-key" />
                <input ref={value_input} type="text" placeholder="value" aria-label="Value" data-testid="inspect-kv-value" />
                <button onclick={set} data-testid="inspect-kv-set">{ "Write here now" }</button>
            </div>
        </> }
    }

    /// Every key across the live replicas.
    fn panel(&self, sim: &LabSim) -> Html {
        let Some(run) = run(sim) else { return html! {} };
        let keys = KvObserver::keys_across(run.lab());
        let live = run.lab().live().count();
        html! {
            <section class="panel kv-keys" aria-label="Keys across replicas">
                <h2>{ "Keys across the live replicas" }</h2>
                if keys.is_empty() {
                    <p class="muted">{ "No key written yet: the scenario's set steps, or click a replica and write." }</p>
                } else {
                    <table class="kv" data-testid="lab-keys">
                        <thead><tr><th>{ "key" }</th><th>{ "read by last writer wins" }</th><th>{ "concurrent writes (vector clocks)" }</th></tr></thead>
                        <tbody>
                        { for keys.iter().map(|(k, KeyAcross { reads, with_siblings, siblings })| html! {
                            <tr class={classes!((*with_siblings > 0).then_some("conflict"))} data-testid="lab-key" data-key={k.clone()}>
                                <td>{ k }</td>
                                <td>{ reads.iter().map(|(v, n)| format!("{v} ×{n}")).collect::<Vec<_>>().join(", ") }
                                    { format!(" of {live}") }</td>
                                <td>{ if *with_siblings > 0 {
                                    format!("{} at {} replicas: LWW shows one, dropping the other{}", siblings.join(" | "), with_siblings, if siblings.len() > 2 { "s" } else { "" })
                                } else { "none".into() } }</td>
                            </tr>
                        }) }
                        </tbody>
                    </table>
                }
            </section>
        }
    }

    fn colours(&self, sim: &LabSim) -> Vec<[u8; 4]> {
        let Some(run) = run(sim) else {
            return vec![palette::rgba(DOWN); sim.len() as usize];
        };
        let ranks = KvObserver::state_ranks(run.lab());
        let colour = |i: u32| match ranks.get(i as usize).copied().flatten() {
            None => palette::rgba(DOWN),
            Some(r) => palette::rgba(
                STATE_COLOURS
                    .get(r as usize)
                    .copied()
                    .unwrap_or(OTHER_STATE),
            ),
        };
        (0..sim.len()).map(colour).collect()
    }
}
