//! Live mode's page: this tab's id and links, the membership list, the rumors it heard, the
//! key-value map, the counters, and the live knobs. The `data-testid` hooks named in the
//! live-mode issue are a stable interface for automation outside the repository.

use super::conductor::Cue;
use super::conductor::{self, PanelActions, PanelFields, PanelProps};
use super::room::{self as room_view, Scene};
use super::server::{FULL_RETRY_MS, LOCKED_RETRY_MS};
use super::{start, Handle, ServerState};
use crate::stats::{stat, stat_titled};
use gloo_events::EventListener;
use gloo_timers::callback::Interval;
use grapevine_core::lab::conduct::{Command, Settings};
use grapevine_core::lab::live::LiveConfig;
use grapevine_core::lab::record;
use grapevine_core::lab::room::{guesses, spread, Layout};
use grapevine_core::lab::rumor::{RumorConfig, RumorId};
use grapevine_core::lab::swim::MemberState;
use grapevine_core::lab::NodeId;
use grapevine_core::signal::peer_hex as hex;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// The rumor intervals offered, ms.
const INTERVALS: [u32; 5] = grapevine_core::lab::conduct::INTERVALS_MS;

/// Properties of [`LiveView`].
#[derive(Properties, PartialEq)]
pub struct LiveProps {
    /// The room to join.
    pub room: String,
    /// ICE server URLs from the page's settings (empty: the server's, or none).
    pub ice: Vec<String>,
    /// The conductor token from the conductor link, if any.
    #[prop_or_default]
    pub conductor: Option<String>,
    /// The room's join code from the student link, if any.
    #[prop_or_default]
    pub code: Option<String>,
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
    /// A member was clicked in the room view.
    Pick(NodeId),
    /// Another rumor was chosen for the room view.
    SelectRumor,
    /// The replay slider moved.
    Replay,
    /// The guess in the field was submitted.
    Guess,
    /// Conductor: apply the knobs in the panel to the room.
    Apply,
    /// Conductor: the split select changed.
    Split,
    /// Conductor: heal the split.
    Heal,
    /// Conductor: reset the room's rumors and counters.
    Reset,
    /// Conductor: ask for guesses.
    Ask,
    /// Conductor: start a rumor at the picked member.
    RumorAt,
    /// Conductor: freeze or thaw the picked member.
    Freeze,
    /// Conductor: split the room into this many groups.
    SplitInto(u8),
    /// Conductor: the class script's step (0-based).
    Script(usize),
    /// Conductor: the class script one step on (+1) or back (-1), from a clicker.
    ScriptBy(i8),
    /// Conductor: the class script's step button.
    Cue(Cue),
    /// The join code in the field was submitted.
    SubmitCode,
    /// Conductor: lock or unlock the room.
    Lock,
    /// Conductor: remove the picked member from the room.
    Remove,
    /// Conductor: remove these members (an address's, as its row showed them).
    RemoveMembers(Vec<NodeId>),
    /// Open or close the waiting room.
    WaitingRoom,
    /// Admit these newcomers waiting at the door.
    Admit(Vec<NodeId>),
    /// Conductor: download the room's record.
    Record,
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
    /// Where each member sits in the room view (kept as others come and go).
    layout: RefCell<Layout>,
    /// The member clicked last.
    picked: Option<NodeId>,
    /// The rumor the room view follows (`None`: the newest).
    selected: Option<RumorId>,
    /// The replay's time, ms after the rumor's birth (`None`: live).
    replay: Option<i64>,
    rumor_select: NodeRef,
    replay_input: NodeRef,
    guess: NodeRef,
    /// The join code field (when the server asks for one).
    code: NodeRef,
    /// This tab's last guess, seconds.
    guessed: Option<f64>,
    fields: PanelFields,
    /// The conductor's knob fields hold the settings (filled once, when they appear).
    fields_filled: bool,
    /// The class script's step (conductor).
    script: usize,
    /// Whether this tab conducts, for the clicker keys (set on every redraw).
    conducting: Rc<Cell<bool>>,
    /// The last downloaded record's `blob:` URL, revoked at the next download or when the
    /// view goes.
    record_url: Option<String>,
    _keys: Option<EventListener>,
    _refresh: Interval,
}

/// `lines` as JSON lines: each serialised by serde (the same objects `grapevine peer --json`
/// writes), a newline after each.
fn json_lines(lines: &[record::Line]) -> String {
    let mut text = String::new();
    for line in lines {
        let json = serde_wasm_bindgen::to_value(line)
            .ok()
            .and_then(|v| js_sys::JSON::stringify(&v).ok())
            .and_then(|s| s.as_string());
        if let Some(json) = json {
            text.push_str(&json);
            text.push('\n');
        }
    }
    text
}

/// Saves `text` as the file `name` (a `blob:` URL through a link clicked by hand); returns the
/// URL, for the caller to revoke later (revoked at once, the download could be cut short).
fn download(text: &str, name: &str) -> String {
    let url = crate::batch::text_url(text, "application/x-ndjson");
    let anchor = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.create_element("a").ok())
        .and_then(|a| a.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(a) = anchor {
        let _ = a.set_attribute("href", &url);
        let _ = a.set_attribute("download", name);
        a.click();
    }
    url
}

/// A presenter's clicker in the conductor's tab: PageDown / PageUp step through the class
/// script (only while this tab conducts: a student's PageDown still scrolls).
fn clicker(link: html::Scope<LiveView>, conducting: Rc<Cell<bool>>) -> Option<EventListener> {
    crate::browser::on_keys(move |key| {
        let by = match key {
            "PageDown" => 1,
            "PageUp" => -1,
            _ => return false,
        };
        if !conducting.get() {
            return false;
        }
        link.send_message(Msg::ScriptBy(by));
        true
    })
}

impl LiveView {
    /// The order a script step's button gives: the panel's own (`None`: a step to talk).
    /// A rumor with no member picked starts at another member than this tab, the first in
    /// the room's order, so the class sees it cross the room from a student.
    fn cue(&mut self, cue: Cue) -> Option<Msg> {
        Some(match cue {
            Cue::Talk => return None,
            Cue::Ask => Msg::Ask,
            Cue::Split => Msg::SplitInto(2),
            Cue::Heal => Msg::Heal,
            Cue::Freeze => Msg::Freeze,
            Cue::Rumor => {
                if self.picked.is_none() {
                    let live = self.live.try_borrow().ok()?;
                    let podium = live.node.podium();
                    self.picked = live
                        .node
                        .room()
                        .iter()
                        .filter(|m| m.status.is_member() && m.id != live.me)
                        .map(|m| m.id)
                        .find(|id| !podium.frozen.contains(id));
                }
                Msg::RumorAt
            }
        })
    }
}

impl LiveView {
    /// Why the server does not have this tab in the room, if it refused it: what the student
    /// reads (`room-refused`, its `data-reason` the refusal's kind), and for a room that needs
    /// its join code, the field to type it in.
    fn refusal(&self, server: &ServerState, link: &html::Scope<Self>) -> Html {
        let (reason, text) = match server {
            ServerState::Full(why) => ("full", format!("Not in the room yet: {why}. This tab tries again every {} s and joins as soon as someone leaves; nothing to do meanwhile.", FULL_RETRY_MS / 1000)),
            ServerState::Locked(why) => ("locked", format!("Not in the room: {why}. This tab tries again every {} s, in case the conductor opens it.", LOCKED_RETRY_MS / 1000)),
            ServerState::Removed(why) => ("removed", format!("Out of the room: {why}. This tab will not rejoin; the rest of the class goes on.")),
            ServerState::NeedsCode(why) => ("code", format!("Not in the room yet: {why}.")),
            ServerState::Waiting => {
                return html! {
                    <div class="panel waiting" role="status" data-testid="room-refused" data-reason="waiting">
                        <p><strong>{ "Waiting at the door." }</strong>{ " The teacher lets you in: keep this tab open, it joins by itself." }</p>
                    </div>
                }
            }
            _ => return Html::default(),
        };
        let submit = link.callback(|e: SubmitEvent| {
            e.prevent_default();
            Msg::SubmitCode
        });
        html! {
            <div class="panel error" role="alert" data-testid="room-refused" data-reason={reason}>
                <p>{ text }</p>
                if reason == "code" {
                    <form class="join-code" onsubmit={submit}>
                        <label>{ "Join code " }
                            <input ref={self.code.clone()} type="text" inputmode="numeric" autocomplete="off"
                                maxlength="32" placeholder="e.g. 482913" data-testid="join-code" />
                        </label>
                        <button class="primary" type="submit" data-testid="join-code-submit">{ "Join" }</button>
                    </form>
                }
            </div>
        }
    }
}

fn select_value(r: &NodeRef) -> String {
    r.cast::<web_sys::HtmlSelectElement>()
        .map(|el| el.value())
        .unwrap_or_default()
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
        let live = start(
            ctx.props().room.clone(),
            config,
            &ctx.props().ice,
            ctx.props().conductor.clone(),
            ctx.props().code.clone(),
        );
        let link = ctx.link().clone();
        let conducting = Rc::new(Cell::new(false));
        LiveView {
            live,
            rumor_text: NodeRef::default(),
            key: NodeRef::default(),
            value: NodeRef::default(),
            fanout: NodeRef::default(),
            interval: NodeRef::default(),
            loss: NodeRef::default(),
            error: None,
            layout: RefCell::new(Layout::default()),
            picked: None,
            selected: None,
            replay: None,
            rumor_select: NodeRef::default(),
            replay_input: NodeRef::default(),
            guess: NodeRef::default(),
            code: NodeRef::default(),
            guessed: None,
            fields: PanelFields::default(),
            fields_filled: false,
            script: 0,
            _keys: clicker(ctx.link().clone(), conducting.clone()),
            conducting,
            record_url: None,
            _refresh: Interval::new(200, move || link.send_message(Msg::Refresh)),
        }
    }

    fn update(&mut self, _ctx: &Context<Self>, msg: Msg) -> bool {
        // A script step's button gives the order the panel's own button gives.
        let msg = match msg {
            Msg::Cue(cue) => match self.cue(cue) {
                Some(msg) => msg,
                None => return false,
            },
            msg => msg,
        };
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
            Msg::Knobs if live.node.podium().settings.is_some() => {} // locked by the conductor
            Msg::Pick(id) => self.picked = Some(id),
            Msg::SubmitCode => {
                let code = read(&self.code).trim().to_string();
                if grapevine_core::signal::valid_join_code(&code) {
                    self.error = None;
                    live.enter_code(code);
                } else {
                    self.error = Some("A join code is 4 to 32 letters or digits: type the one the teacher's screen shows.".into());
                }
            }
            Msg::Lock => {
                let locked = !live.server_locked.unwrap_or(live.node.podium().locked);
                live.order(&Command::Lock { locked });
            }
            Msg::WaitingRoom => {
                let on = !live.door.waiting_room;
                live.order(&Command::Wait { on });
            }
            Msg::Admit(members) => {
                if !members.is_empty() {
                    live.order(&Command::Admit { members });
                }
            }
            Msg::RemoveMembers(members) => {
                let me = live.me;
                let members: Vec<NodeId> = members.into_iter().filter(|&p| p != me).collect();
                if !members.is_empty() {
                    self.picked = None;
                    live.order(&Command::Remove { members });
                }
            }
            Msg::Remove => {
                if let Some(member) = self.picked.take().filter(|&m| m != live.me) {
                    live.order(&Command::Remove {
                        members: vec![member],
                    });
                }
            }
            Msg::SelectRumor => {
                let v = select_value(&self.rumor_select);
                self.selected = v.split_once(':').and_then(|(o, s)| {
                    Some(RumorId {
                        origin: grapevine_core::signal::parse_peer(o)?,
                        seq: s.parse().ok()?,
                    })
                });
                self.replay = None;
            }
            Msg::Replay => {
                let input = self.replay_input.cast::<HtmlInputElement>();
                self.replay = input.and_then(|el| {
                    let (v, max) = (el.value_as_number(), el.max().parse::<f64>().ok()?);
                    (v < max - 1.0).then_some(v as i64)
                });
            }
            Msg::Guess => match read(&self.guess).trim().parse::<f64>() {
                Ok(s) if s.is_finite() && (0.0..=3_600.0).contains(&s) => {
                    self.error = None;
                    self.guessed = Some(s);
                    live.guess(s);
                }
                _ => self.error = Some("A guess is a number of seconds, 0 to 3600.".into()),
            },
            Msg::Apply => {
                let number = |r: &NodeRef| read(r).trim().parse::<u32>().ok();
                let settings = Settings {
                    fanout: number(&self.fields.fanout).unwrap_or(0).min(255) as u8,
                    interval_ms: select_value(&self.fields.interval).parse().unwrap_or(0),
                    loss_percent: number(&self.fields.loss).unwrap_or(101).min(255) as u8,
                    stop: select_value(&self.fields.stop).parse().unwrap_or(0),
                    k: number(&self.fields.k).unwrap_or(0).min(255) as u8,
                };
                let command = Command::Settings(settings);
                match command.validate() {
                    Ok(()) => {
                        self.error = None;
                        live.order(&command);
                    }
                    Err(why) => {
                        self.error = Some(format!(
                            "Not applied: {why} (fanout 1–16, loss 0–100 %, k 1–255)."
                        ))
                    }
                }
            }
            Msg::Script(at) => self.script = at.min(conductor::SCRIPT.len() - 1),
            Msg::ScriptBy(by) => {
                self.script = self
                    .script
                    .saturating_add_signed(isize::from(by))
                    .min(conductor::SCRIPT.len() - 1)
            }
            Msg::Cue(_) => {}
            msg @ (Msg::Split | Msg::SplitInto(_)) => {
                let groups = match msg {
                    Msg::SplitInto(groups) => groups,
                    _ => select_value(&self.fields.split).parse().unwrap_or(1),
                };
                let mut layout = self.layout.borrow_mut();
                let places: Vec<(NodeId, (f64, f64))> = live
                    .node
                    .room()
                    .iter()
                    .filter(|m| m.status.is_member())
                    .map(|m| (m.id, layout.place(m.id)))
                    .collect();
                live.order(&conductor::split_by_angle(&places, groups));
            }
            Msg::Heal => live.order(&Command::Split {
                groups: 1,
                members: Vec::new(),
            }),
            Msg::Reset => {
                self.selected = None;
                self.replay = None;
                live.order(&Command::Reset);
            }
            Msg::Ask => live.order(&Command::Ask),
            Msg::Record => {
                let node = &live.node;
                let config = node.config();
                let rumors: Vec<(RumorId, u64)> = node
                    .rumor()
                    .iter_rumors()
                    .map(|(r, _)| (r.id, r.born_ms))
                    .collect();
                let settings = (config.rumor.fanout, config.rumor.interval_ms, config.loss);
                let mut lines = record::room_lines(live.me, &node.room(), &rumors, settings);
                lines.extend(live.orders.iter().cloned());
                let name = format!("grapevine-room-{}.jsonl", live.room);
                if let Some(old) = self
                    .record_url
                    .replace(download(&json_lines(&lines), &name))
                {
                    let _ = web_sys::Url::revoke_object_url(&old);
                }
            }
            Msg::RumorAt => {
                if let Some(at) = self.picked {
                    let text = read(&self.rumor_text).trim().to_string();
                    let text = if text.is_empty()
                        || text.len() > grapevine_core::lab::rumor::MAX_PAYLOAD_BYTES
                    {
                        format!("the conductor's news via {}", hex(at))
                    } else {
                        text
                    };
                    self.selected = None;
                    self.replay = None;
                    live.order(&Command::Rumor { at, text });
                }
            }
            Msg::Freeze => {
                if let Some(member) = self.picked {
                    let frozen = !live.node.podium().frozen.contains(&member);
                    live.order(&Command::Freeze { member, frozen });
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

    /// Leaving live mode for the simulator (the page stays): leave the room as on `pagehide`,
    /// gracefully, so the others see this member `left` rather than suspect it.
    fn destroy(&mut self, _ctx: &Context<Self>) {
        if let Some(url) = self.record_url.take() {
            let _ = web_sys::Url::revoke_object_url(&url);
        }
        if let Ok(mut live) = self.live.try_borrow_mut() {
            live.shut_down();
        }
    }

    fn rendered(&mut self, _ctx: &Context<Self>, _first: bool) {
        if let Ok(live) = self.live.try_borrow() {
            if !live.conducts() {
                self.fields_filled = false; // filled again if the baton comes back
            } else if !self.fields_filled {
                self.fields_filled = self.fields.fill(&Settings::of(&live.node.config()));
            }
        }
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
            .filter(|(id, _)| !node.podium().removed.contains(id))
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
            ServerState::Full(why) => ("full", format!("signaling server: refused: {why}")),
            ServerState::NeedsCode(why) => ("code", format!("signaling server: refused: {why}")),
            ServerState::Locked(why) => ("locked", format!("signaling server: refused: {why}")),
            ServerState::Removed(why) => ("removed", format!("signaling server: {why}")),
            ServerState::Waiting => ("waiting", "signaling server: waiting for the conductor to admit this tab".to_string()),
        };
        let refused = self.refusal(&live.server, link);
        let links = live.link_rows();
        let kv = node.kv();
        // The room: every member's record, the selected rumor's spread, theory for the room.
        let podium = node.podium();
        let locked = podium.settings;
        let room = node.room();
        let known: Vec<(RumorId, u64, String)> = node
            .rumor()
            .iter_rumors()
            .map(|(r, _)| (r.id, r.born_ms, r.text.clone()))
            .collect();
        let choices = room_view::rumor_choices(&known);
        let selected = self
            .selected
            .filter(|id| known.iter().any(|k| k.0 == *id))
            .or(choices.first().map(|c| c.0));
        let born = selected.and_then(|id| known.iter().find(|k| k.0 == id).map(|k| k.1));
        let spread = selected.map(|id| spread(&room, id, born));
        // born_ms is the origin's word: any u64.
        let live_at = spread.as_ref().map_or(0, |s| {
            (js_sys::Date::now() as i64)
                .saturating_sub(s.born_ms.min(i64::MAX as u64) as i64)
                .max(0)
        });
        let at_ms = self.replay.unwrap_or(live_at).min(live_at);
        let in_room = room.iter().filter(|m| m.status.is_member()).count();
        let (theory_points, theory_ms) = room_view::theory(
            config.rumor.protocol,
            in_room,
            config.rumor.fanout,
            config.rumor.interval_ms,
            config.loss,
        );
        let question = podium.asked.unwrap_or(0);
        let class_guesses = guesses(&room, question);
        let measured_s = spread
            .as_ref()
            .and_then(|s| s.everyone_after_ms)
            .map(|ms| ms as f64 / 1000.0);
        let theory_s = theory_ms.map(|ms| ms / 1000.0);
        let picture = room_view::picture(
            &Scene {
                members: &room,
                spread: spread.as_ref(),
                at_ms,
                podium,
                picked: self.picked,
            },
            &mut self.layout.borrow_mut(),
            link.callback(Msg::Pick),
        );
        let my_group = podium.group_of(live.me);
        self.conducting.set(live.conducts());
        let picked = self.picked.map(|p| (p, podium.frozen.contains(&p)));
        let conductor_panel = live.conducts().then(|| {
            let guesses_html = html! {
                <>
                { room_view::guesses_chart(&class_guesses, measured_s, theory_s) }
                <p class="hint" data-testid="guess-count">{ format!(
                    "{} guess(es){}{}{}",
                    class_guesses.len(),
                    grapevine_core::lab::room::median_guess(&class_guesses).map_or(String::new(), |m| format!(", median {m:.1} s")),
                    measured_s.map_or(" · measured: not everyone yet".to_string(), |m| format!(" · measured {m:.1} s")),
                    theory_s.map_or(String::new(), |t| format!(" · theory {t:.1} s")),
                ) }</p>
                </>
            };
            conductor::panel(
                &PanelProps {
                    groups: podium.group_count.max(1),
                    picked,
                    link: conductor::student_link(&live.room, live.join_code.as_ref().map(|c| c.0.as_str())),
                    code: live.join_code.as_ref().map(|(code, until)| {
                        let left = until.map(|t| t.saturating_sub(js_sys::Date::now() as u64));
                        (code.clone(), left)
                    }),
                    locked: live.server_locked.unwrap_or(podium.locked),
                    addresses: live
                        .door
                        .addresses
                        .iter()
                        .map(|(a, m)| (a.clone(), m.iter().copied().filter(|&p| p != live.me).collect()))
                        .collect(),
                    waiting_room: live.door.waiting_room,
                    waiting: live.door.waiting.clone(),
                    guesses: guesses_html,
                    asked: podium.asked.is_some(),
                    script: conductor::script(self.script, picked, &link.callback(Msg::Script), &link.callback(Msg::Cue)),
                },
                &PanelActions {
                    apply: link.callback(|_| Msg::Apply),
                    split: link.callback(|_| Msg::Split),
                    heal: link.callback(|_| Msg::Heal),
                    reset: link.callback(|_| Msg::Reset),
                    ask: link.callback(|_| Msg::Ask),
                    record: link.callback(|_| Msg::Record),
                    rumor_at: link.callback(|_| Msg::RumorAt),
                    freeze: link.callback(|_| Msg::Freeze),
                    lock: link.callback(|_| Msg::Lock),
                    remove: link.callback(|_| Msg::Remove),
                    remove_members: link.callback(Msg::RemoveMembers),
                    waiting_room: link.callback(|_| Msg::WaitingRoom),
                    admit: link.callback(Msg::Admit),
                },
                &self.fields,
            )
        });
        html! {
            <main class="layout live">
                <div class="column left">
                    if let Some(panel) = conductor_panel { { panel } }
                    { refused }
                    if let Some(why) = &live.conductor_refused {
                        <p class="panel error" role="alert" data-testid="conductor-refused">{ format!("No conductor's controls for this tab: {why}.") }</p>
                    }
                    <section class="panel controls" aria-label="Live controls">
                        <h2>{ "This tab" }</h2>
                        <p class="facts">{ "id " }<code data-testid="peer-id">{ &me }</code></p>
                        <p class="facts">{ format!("room {} · ", live.room) }<span data-testid="peer-count">{ live.ready_peers() }</span>{ " peers connected" }</p>
                        <p class="hint" data-testid="server-state" data-state={server_state}>{ server }</p>
                        if node.is_frozen() && !matches!(live.server, ServerState::Removed(_)) {
                            <p class="locked frozen" data-testid="room-frozen">{ "The conductor froze this tab: it neither sends nor answers, as if it had crashed." }</p>
                        }
                        if podium.group_count > 1 {
                            <p class="locked">{ format!("The conductor split the room into {} groups: this tab is in group {}, and hears only its own group.", podium.group_count, my_group + 1) }</p>
                        }
                        if let Some(s) = locked {
                            <p class="locked" data-testid="room-locked">{ format!(
                                "{} the settings: fanout {}, every {} ms, loss {} %, stop rule {}.",
                                if live.conducts() { "You hold the room's" } else { "The conductor holds" },
                                s.fanout, s.interval_ms, s.loss_percent, s.interest().rule.name()
                            ) }</p>
                        }
                        <label>{ "Fanout " }<output>{ config.rumor.fanout }</output>
                            <input ref={self.fanout.clone()} type="range" min="1" max="16" value={config.rumor.fanout.to_string()} disabled={locked.is_some()}
                                data-testid="live-fanout" oninput={link.callback(|_| Msg::Knobs)} onchange={link.callback(|_| Msg::Knobs)} />
                        </label>
                        <label>{ "Rumor interval" }
                            <select ref={self.interval.clone()} data-testid="live-interval" disabled={locked.is_some()} onchange={link.callback(|_| Msg::Knobs)}>
                                { for INTERVALS.iter().map(|&ms| html! {
                                    <option value={ms.to_string()} selected={ms == config.rumor.interval_ms}>{ format!("{ms} ms") }</option>
                                }) }
                            </select>
                        </label>
                        <label>{ "Loss on send " }<output>{ format!("{:.0} %", config.loss * 100.0) }</output>
                            <input ref={self.loss.clone()} type="range" min="0" max="100" step="1" value={format!("{}", (config.loss * 100.0).round())}
                                data-testid="live-loss" disabled={locked.is_some()} oninput={link.callback(|_| Msg::Knobs)} onchange={link.callback(|_| Msg::Knobs)} />
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
                    <section class="panel room" aria-label="The room">
                        <h2>{ "The room" }</h2>
                        <div class="room-bar">
                            <label>{ "Rumor " }
                                <select ref={self.rumor_select.clone()} data-testid="room-rumor" onchange={link.callback(|_| Msg::SelectRumor)}>
                                    if choices.is_empty() { <option>{ "none yet" }</option> }
                                    { for choices.iter().map(|(id, label)| html! {
                                        <option value={format!("{}:{}", hex(id.origin), id.seq)} selected={Some(*id) == selected}>{ label }</option>
                                    }) }
                                </select>
                            </label>
                            <span class="informed" data-testid="room-informed">{ match &spread {
                                Some(s) => format!("{} of {} members informed", s.informed, s.members),
                                None => format!("{in_room} members; no rumor yet"),
                            } }</span>
                        </div>
                        { picture }
                        if let Some(s) = &spread {
                            <label class="replay">
                                <span>{ if self.replay.is_some() { format!("Replay: {:.1} s after the start", at_ms as f64 / 1000.0) } else { format!("Live: {:.1} s since the start", at_ms as f64 / 1000.0) } }</span>
                                <input ref={self.replay_input.clone()} type="range" min="0" max={live_at.to_string()} step="50" value={at_ms.to_string()}
                                    data-testid="room-replay" oninput={link.callback(|_| Msg::Replay)} />
                            </label>
                            <div class="charts">{ room_view::curve(s, &theory_points, at_ms) }</div>
                            <p class="hint">{ format!(
                                "Everyone: {} · theory (push to {} of {} members every {} ms{}): {}.",
                                s.everyone_after_ms.map_or("not yet".to_string(), |ms| format!("{:.1} s", ms as f64 / 1000.0)),
                                config.rumor.fanout, in_room, config.rumor.interval_ms,
                                if config.loss > 0.0 { format!(", {:.0} % lost", config.loss * 100.0) } else { String::new() },
                                theory_s.map_or("never".to_string(), |t| format!("{t:.1} s")),
                            ) }</p>
                        }
                        <p class="key">
                            <span class="dot unaware"></span>{ "unaware" }
                            <span class="dot heard"></span>{ "just heard" }
                            <span class="dot spreading"></span>{ "spreading" }
                            <span class="dot stopped"></span>{ "stopped" }
                            <span class="swatch told"></span>{ "told" }
                            <span class="swatch relay"></span>{ "relay link" }
                        </p>
                        if podium.conductor().is_some() {
                            <div class="guess">
                                <label>{ if podium.asked.is_some() { "The conductor asks: how many seconds until everyone knows? " } else { "Your guess: seconds until everyone knows the next rumor " } }
                                    <input ref={self.guess.clone()} type="number" min="0" max="3600" step="0.5" data-testid="guess" />
                                </label>
                                <button data-testid="guess-submit" onclick={link.callback(|_| Msg::Guess)}>{ "Guess" }</button>
                                if let Some(g) = self.guessed { <span class="hint">{ format!("you guessed {g} s") }</span> }
                            </div>
                        }
                        <p class="hint">{ room_view::HOW_IT_KNOWS }</p>
                    </section>
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
                            { for kv.keys().into_iter().filter(|k| !k.starts_with(grapevine_core::lab::room::PREFIX)).map(|k| {
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
                        { stat("Sent", counters.sent, Some("live-sent"),
                            (counters.unsendable > 0).then(|| format!("{} too large to send", counters.unsendable).into())) }
                        { stat("Received", counters.received, Some("live-received"),
                            (counters.unlinked > 0).then(|| format!("{} after an unlink", counters.unlinked).into())) }
                        { stat("Dropped", counters.dropped, Some("live-dropped"), Some("by the loss knob".into())) }
                        { stat("Malformed", counters.malformed, Some("live-malformed"), Some("refused by the decoder".into())) }
                        { stat_titled(
                            "What peers sent that this tab refused, by reason: forged or unsigned news, writes and rumors, members not in the room, peers over their rate, caps.",
                            "Refused", refusals.total(), Some("live-refused"),
                            Some(html! { <>
                                if refusals.total() == 0 { { "nothing forged or over a cap" } }
                                { for refusals.iter().map(|(why, n)| html! {
                                    <span class="reason" data-testid="live-refused-reason" data-reason={why}>{ format!("{why} {n}") }</span>
                                }) }
                            </> })) }
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
