//! Live mode's page: this tab's id and links, the membership list, the rumors it heard, the
//! key-value map, the counters, and the live knobs. The `data-testid` hooks named in the
//! live-mode issue are a stable interface for automation outside the repository.

use super::{start, Handle, ServerState};
use gloo_timers::callback::Interval;
use grapevine_core::lab::live::LiveConfig;
use grapevine_core::lab::rumor::RumorConfig;
use grapevine_core::lab::swim::MemberState;
use grapevine_core::signal::peer_hex as hex;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// The rumor intervals offered, ms.
const INTERVALS: [u32; 5] = [100, 250, 500, 1_000, 2_000];

/// Properties of [`LiveView`].
#[derive(Properties, PartialEq)]
pub struct LiveProps {
    /// The room to join.
    pub room: String,
    /// ICE server URLs from the page's settings (empty: the server's, or none).
    pub ice: Vec<String>,
}

/// What happens in the view.
pub enum Msg {
    /// Redraw from the node's state.
    Refresh,
    /// Start a rumor with the text in the field.
    StartRumor,
    /// Write the key and value in the fields.
    Set,
    /// Fanout or loss changed.
    Knobs,
}

/// Live mode.
pub struct LiveView {
    live: Handle,
    rumor_text: NodeRef,
    key: NodeRef,
    value: NodeRef,
    fanout: NodeRef,
    interval: NodeRef,
    loss: NodeRef,
    error: Option<String>,
    _refresh: Interval,
}

fn read(r: &NodeRef) -> String {
    r.cast::<HtmlInputElement>()
        .map(|el| el.value())
        .unwrap_or_default()
}

impl Component for LiveView {
    type Message = Msg;
    type Properties = LiveProps;

    fn create(ctx: &Context<Self>) -> Self {
        let config = LiveConfig {
            rumor: RumorConfig {
                interval_ms: 500,
                ..RumorConfig::default()
            },
            loss: 0.0,
        };
        let live = start(ctx.props().room.clone(), config, &ctx.props().ice);
        let link = ctx.link().clone();
        LiveView {
            live,
            rumor_text: NodeRef::default(),
            key: NodeRef::default(),
            value: NodeRef::default(),
            fanout: NodeRef::default(),
            interval: NodeRef::default(),
            loss: NodeRef::default(),
            error: None,
            _refresh: Interval::new(200, move || link.send_message(Msg::Refresh)),
        }
    }

    fn update(&mut self, _ctx: &Context<Self>, msg: Msg) -> bool {
        let Ok(mut live) = self.live.try_borrow_mut() else {
            return false;
        };
        match msg {
            Msg::Refresh => {}
            Msg::StartRumor => {
                let text = read(&self.rumor_text);
                let text = if text.trim().is_empty() {
                    format!("news from {}", hex(live.me))
                } else {
                    text.trim().to_string()
                };
                if text.len() > grapevine_core::lab::rumor::MAX_PAYLOAD_BYTES {
                    self.error = Some("A rumor is at most 200 bytes.".into());
                } else {
                    self.error = None;
                    live.start_rumor(text);
                }
            }
            Msg::Set => {
                let (key, value) = (read(&self.key).trim().to_string(), read(&self.value));
                match grapevine_core::lab::kv::check_key_value(&key, &value) {
                    Ok(()) => {
                        self.error = None;
                        live.set(key, value);
                    }
                    Err(why) => self.error = Some(format!("Not written: {why}.")),
                }
            }
            Msg::Knobs => {
                let fanout = read(&self.fanout).parse::<u8>().unwrap_or(1).clamp(1, 16);
                let interval = self
                    .interval
                    .cast::<web_sys::HtmlSelectElement>()
                    .and_then(|s| s.value().parse::<u32>().ok())
                    .filter(|ms| INTERVALS.contains(ms))
                    .unwrap_or(500);
                let loss = (read(&self.loss).parse::<f64>().unwrap_or(0.0) / 100.0).clamp(0.0, 1.0);
                live.configure(fanout, interval, loss);
            }
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let Ok(live) = self.live.try_borrow() else {
            return html! { <p class="muted">{ "…" }</p> };
        };
        let link = ctx.link();
        let node = &live.node;
        let config = node.config();
        let counters = node.counters();
        let refusals = node.refusals();
        let me = hex(live.me);
        let mut members: Vec<(String, &'static str)> = node
            .swim()
            .iter_members()
            .map(|(id, v)| (hex(id), v.state.name()))
            .collect();
        members.insert(0, (me.clone(), MemberState::Alive.name()));
        let (server_state, server) = match &live.server {
            ServerState::Connected => ("connected", "signaling server: connected".to_string()),
            ServerState::Connecting => ("connecting", "signaling server: connecting…".to_string()),
            ServerState::Offline(why) => ("offline", format!("signaling server: {why}")),
            ServerState::Taken(_) => (
                "taken",
                "signaling server: another tab joined with this tab's key (a duplicated tab?); reload this tab to join with a new key".to_string(),
            ),
        };
        let links = live.link_rows();
        let kv = node.kv();
        html! {
            <main class="layout live">
                <div class="column left">
                    <section class="panel controls" aria-label="Live controls">
                        <h2>{ "This tab" }</h2>
                        <p class="facts">{ "id " }<code data-testid="peer-id">{ &me }</code></p>
                        <p class="facts">{ format!("room {} · ", live.room) }<span data-testid="peer-count">{ live.ready_peers() }</span>{ " peers connected" }</p>
                        <p class="hint" data-testid="server-state" data-state={server_state}>{ server }</p>
                        <label>{ "Fanout " }<output>{ config.rumor.fanout }</output>
                            <input ref={self.fanout.clone()} type="range" min="1" max="16" value={config.rumor.fanout.to_string()}
                                data-testid="live-fanout" oninput={link.callback(|_| Msg::Knobs)} onchange={link.callback(|_| Msg::Knobs)} />
                        </label>
                        <label>{ "Rumor interval" }
                            <select ref={self.interval.clone()} data-testid="live-interval" onchange={link.callback(|_| Msg::Knobs)}>
                                { for INTERVALS.iter().map(|&ms| html! {
                                    <option value={ms.to_string()} selected={ms == config.rumor.interval_ms}>{ format!("{ms} ms") }</option>
                                }) }
                            </select>
                        </label>
                        <label>{ "Loss on send " }<output>{ format!("{:.0} %", config.loss * 100.0) }</output>
                            <input ref={self.loss.clone()} type="range" min="0" max="100" step="1" value={format!("{}", (config.loss * 100.0).round())}
                                data-testid="live-loss" oninput={link.callback(|_| Msg::Knobs)} onchange={link.callback(|_| Msg::Knobs)} />
                        </label>
                        <p class="hint">{ format!("Every {} ms each tab pushes the rumors it spreads to {} random connected peer(s); SWIM probes one member every 500 ms. Dropped messages are never sent.", config.rumor.interval_ms, config.rumor.fanout) }</p>
                        <label>{ "Rumor" }
                            <input ref={self.rumor_text.clone()} type="text" placeholder="what to spread" data-testid="rumor-text" />
                        </label>
                        <button class="primary" data-testid="start-rumor" onclick={link.callback(|_| Msg::StartRumor)}>{ "Start a rumor" }</button>
                        <fieldset>
                            <legend>{ "Replicated key-value" }</legend>
                            <input ref={self.key.clone()} type="text" placeholder="key" data-testid="kv-key" />
                            <input ref={self.value.clone()} type="text" placeholder="value" data-testid="kv-value" />
                            <button data-testid="kv-set" onclick={link.callback(|_| Msg::Set)}>{ "Set" }</button>
                        </fieldset>
                        if let Some(e) = &self.error { <p class="error" role="alert">{ e }</p> }
                        <p class="hint">{ "Open this page in more tabs (or another browser, through the same server) to add nodes, or fill the room with native members: grapevine peer --url … --room … --count 60. Closing a tab is seen at once; a crashed one, by SWIM's probes." }</p>
                    </section>
                </div>
                <div class="column center">
                    <section class="panel" aria-label="Rumors">
                        <h2>{ "Rumors heard" }</h2>
                        <table class="kv">
                            <thead><tr><th>{ "rumor" }</th><th>{ "origin" }</th><th>{ "hops" }</th><th>{ "latency" }</th><th>{ "told by" }</th></tr></thead>
                            <tbody>
                            { for live.rumors.iter().map(|(id, a)| html! {
                                <tr data-testid="rumor" data-rumor-id={format!("{}:{}", hex(id.origin), id.seq)} data-origin={hex(id.origin)} data-hops={a.hops.to_string()}>
                                    <td>{ &a.text }</td><td><code>{ hex(id.origin) }</code></td><td>{ a.hops }</td>
                                    <td>{ format!("{} ms", a.latency_ms) }</td><td><code>{ hex(a.from) }</code></td>
                                </tr>
                            }) }
                            </tbody>
                        </table>
                        if live.rumors.is_empty() { <p class="muted">{ "None yet: start one." }</p> }
                    </section>
                    <section class="panel" aria-label="Key-value">
                        <h2>{ "Key-value map (this replica)" }</h2>
                        <table class="kv">
                            <thead><tr><th>{ "key" }</th><th>{ "last writer wins" }</th><th>{ "vector clocks" }</th></tr></thead>
                            <tbody>
                            { for kv.keys().into_iter().map(|k| {
                                let value = kv.lww(k).map(|e| e.value.clone()).unwrap_or_default();
                                let siblings = kv.siblings(k);
                                html! {
                                    <tr data-testid="kv-entry" data-key={k.to_string()} data-value={value.clone()} class={classes!((siblings.len() > 1).then_some("conflict"))}>
                                        <td>{ k }</td><td>{ value }</td>
                                        <td>{ siblings.iter().map(|e| e.value.as_str()).collect::<Vec<_>>().join(" | ") }</td>
                                    </tr>
                                }
                            }) }
                            </tbody>
                        </table>
                    </section>
                    <section class="panel log" aria-label="Log">
                        <h2>{ "What happened" }</h2>
                        <ol>{ for live.log.iter().rev().map(|l| html! { <li>{ l }</li> }) }</ol>
                    </section>
                </div>
                <div class="column right">
                    <section class="panel stats" aria-label="Counters">
                        <div class="stat"><span class="label">{ "Sent" }</span><span class="value" data-testid="live-sent">{ counters.sent }</span>
                            if counters.unsendable > 0 { <span class="sub">{ format!("{} too large to send", counters.unsendable) }</span> }
                        </div>
                        <div class="stat"><span class="label">{ "Received" }</span><span class="value" data-testid="live-received">{ counters.received }</span></div>
                        <div class="stat"><span class="label">{ "Dropped" }</span><span class="value" data-testid="live-dropped">{ counters.dropped }</span><span class="sub">{ "by the loss knob" }</span></div>
                        <div class="stat"><span class="label">{ "Malformed" }</span><span class="value" data-testid="live-malformed">{ counters.malformed }</span><span class="sub">{ "refused by the decoder" }</span></div>
                        <div class="stat" title="What peers sent that this tab refused, by reason: forged or unsigned news, writes and rumors, members not in the room, peers over their rate, caps.">
                            <span class="label">{ "Refused" }</span>
                            <span class="value" data-testid="live-refused">{ refusals.total() }</span>
                            <span class="sub">
                                if refusals.total() == 0 { { "nothing forged or over a cap" } }
                                { for refusals.iter().map(|(why, n)| html! {
                                    <span class="reason" data-testid="live-refused-reason" data-reason={why}>{ format!("{why} {n}") }</span>
                                }) }
                            </span>
                        </div>
                    </section>
                    <section class="panel" aria-label="Links">
                        <h2>{ "Links" }</h2>
                        <table class="members">
                            <thead><tr><th>{ "peer" }</th><th>{ "via" }</th><th>{ "state" }</th><th>{ "round trip" }</th></tr></thead>
                            <tbody>
                            { for links.iter().map(|l| html! {
                                <tr data-testid="link" data-peer={hex(l.peer)} data-transport={l.transport}>
                                    <td><code>{ hex(l.peer) }</code></td>
                                    <td><span class={classes!("via", l.transport)} title={transport_hint(l.transport)}>{ l.transport }</span></td>
                                    <td>{ if l.ready { "ready" } else { "saying hello" } }</td>
                                    <td>{ l.rtt_ms.map_or("–".into(), |r| format!("{r} ms")) }</td>
                                </tr>
                            }) }
                            </tbody>
                        </table>
                    </section>
                    <section class="panel" aria-label="Membership">
                        <h2>{ "Membership (SWIM)" }</h2>
                        <table class="members">
                            <thead><tr><th>{ "member" }</th><th>{ "state" }</th></tr></thead>
                            <tbody>
                            { for members.iter().map(|(id, state)| html! {
                                <tr data-testid="member" data-peer={id.clone()} data-status={*state}>
                                    <td><code>{ id }</code>{ if *id == me { " (this tab)" } else { "" } }</td>
                                    <td><span class={classes!("state", *state)}>{ *state }</span></td>
                                </tr>
                            }) }
                            </tbody>
                        </table>
                    </section>
                </div>
            </main>
        }
    }
}

/// What a link's transport means, for its tooltip.
fn transport_hint(kind: &str) -> &'static str {
    match kind {
        "relay" => "through the server: no peer-to-peer path formed (or a native peer)",
        "turn" => "peer to peer through a TURN server",
        _ => "peer to peer (WebRTC data channel)",
    }
}
