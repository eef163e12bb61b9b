//! A WebRTC data channel as a [`Transport`]: `web-sys`'s `RTCPeerConnection` used directly
//! (README, architecture: why not matchbox). One negotiated channel per peer, trickle ICE,
//! `connectionstatechange` for failures. The handshake's two descriptions are made by one
//! function ([`describe`]); candidates that come before the remote description wait (at most
//! [`PENDING_CANDIDATES`]).

use super::js::{from_js, to_js};
use super::transport::{Event, Frame, Sink, Transport};
use grapevine_core::lab::wire::MAX_MESSAGE_BYTES;
use grapevine_core::lab::NodeId;
use grapevine_core::signal::{Candidate, Description, DescriptionKind, Signal};
use js_sys::Uint8Array;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MessageEvent, RtcConfiguration, RtcDataChannel, RtcDataChannelInit, RtcDataChannelState,
    RtcDataChannelType, RtcIceCandidateInit, RtcPeerConnection, RtcPeerConnectionIceEvent,
    RtcPeerConnectionState, RtcSdpType, RtcSessionDescriptionInit,
};

/// ICE candidates queued at most per peer before its description arrives.
pub const PENDING_CANDIDATES: usize = 50;

/// The handshake's state, shared with its async steps.
#[derive(Default)]
struct Handshake {
    /// The remote description is set: candidates go straight in.
    remote_set: bool,
    /// Candidates that came first.
    pending: Vec<Candidate>,
}

/// One peer's WebRTC link.
pub struct Link {
    peer: NodeId,
    generation: u64,
    pc: RtcPeerConnection,
    channel: RtcDataChannel,
    handshake: Rc<RefCell<Handshake>>,
    /// The selected ICE candidate pair goes through a TURN server (learnt from `getStats()`
    /// once the channel opens).
    turn: Rc<Cell<bool>>,
    sink: Sink,
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
}

impl Link {
    /// A link to `peer` (not yet negotiated); `ice_servers`: `RTCConfiguration.iceServers`.
    /// Its events go to `sink`, tagged with `generation`.
    pub fn new(peer: NodeId, generation: u64, ice_servers: &JsValue, sink: Sink) -> Option<Link> {
        let config = RtcConfiguration::new();
        config.set_ice_servers(ice_servers);
        let pc = RtcPeerConnection::new_with_configuration(&config).ok()?;
        let init = RtcDataChannelInit::new();
        init.set_negotiated(true);
        init.set_id(0);
        let channel = pc.create_data_channel_with_data_channel_dict("gossip", &init);
        channel.set_binary_type(RtcDataChannelType::Arraybuffer);
        let emit = {
            let sink = sink.clone();
            move |e: Event| sink(e)
        };
        let e = emit.clone();
        let onice = Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
            let ev = ev.unchecked_into::<RtcPeerConnectionIceEvent>();
            let candidate = ev.candidate().and_then(|c| from_js(c.to_json().into()));
            if let Some(candidate) = candidate {
                e(Event::Outgoing(
                    peer,
                    generation,
                    Signal::Candidate { candidate },
                ));
            }
        });
        pc.set_onicecandidate(Some(onice.as_ref().unchecked_ref()));
        let (e, pc2) = (emit.clone(), pc.clone());
        let onstate = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if matches!(
                pc2.connection_state(),
                RtcPeerConnectionState::Failed | RtcPeerConnectionState::Closed
            ) {
                e(Event::LinkClosed(peer, generation, "connection failed"));
            }
        });
        pc.set_onconnectionstatechange(Some(onstate.as_ref().unchecked_ref()));
        let e = emit.clone();
        let turn: Rc<Cell<bool>> = Rc::default();
        let (pc3, turn2) = (pc.clone(), turn.clone());
        let onopen = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            e(Event::LinkOpen(peer, generation));
            let (pc, turn) = (pc3.clone(), turn2.clone());
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(report) = JsFuture::from(pc.get_stats()).await {
                    turn.set(through_turn(&report));
                }
            });
        });
        channel.set_onopen(Some(onopen.as_ref().unchecked_ref()));
        let e = emit.clone();
        let onmessage = Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
            let data = ev.unchecked_into::<MessageEvent>().data();
            e(Event::Frame(peer, generation, frame_of(&data)));
        });
        channel.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        let e = emit;
        let onclose = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            e(Event::LinkClosed(peer, generation, "link closed"));
        });
        channel.set_onclose(Some(onclose.as_ref().unchecked_ref()));
        Some(Link {
            peer,
            generation,
            pc,
            channel,
            handshake: Rc::default(),
            turn,
            sink,
            _handlers: vec![onice, onstate, onopen, onmessage, onclose],
        })
    }

    /// Its generation (see [`Event`]).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Makes the offer (the smaller id of the pair does).
    pub fn offer(&self) {
        let (pc, sink, peer, generation) = (
            self.pc.clone(),
            self.sink.clone(),
            self.peer,
            self.generation,
        );
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(sdp) = describe(&pc, DescriptionKind::Offer).await {
                sink(Event::Outgoing(
                    peer,
                    generation,
                    Signal::Description { sdp },
                ));
            }
        });
    }

    /// The peer's offer or answer: set it, add the candidates that waited, and answer an
    /// offer.
    pub fn handle_description(&self, description: Description) {
        let (pc, sink, peer, generation) = (
            self.pc.clone(),
            self.sink.clone(),
            self.peer,
            self.generation,
        );
        let handshake = self.handshake.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let init = RtcSessionDescriptionInit::new(match description.kind {
                DescriptionKind::Offer => RtcSdpType::Offer,
                DescriptionKind::Answer => RtcSdpType::Answer,
            });
            init.set_sdp(&description.sdp);
            if JsFuture::from(pc.set_remote_description(&init))
                .await
                .is_err()
            {
                return;
            }
            let pending = {
                let mut h = handshake.borrow_mut();
                h.remote_set = true;
                std::mem::take(&mut h.pending)
            };
            for candidate in pending {
                add_candidate(&pc, &candidate).await;
            }
            if description.kind == DescriptionKind::Offer {
                if let Some(sdp) = describe(&pc, DescriptionKind::Answer).await {
                    sink(Event::Outgoing(
                        peer,
                        generation,
                        Signal::Description { sdp },
                    ));
                }
            }
        });
    }

    /// A trickled candidate: added now, or kept until the remote description is set.
    /// `false`: more came before the description than a link keeps (a confused or hostile
    /// peer).
    pub fn handle_candidate(&self, candidate: Candidate) -> bool {
        let mut h = self.handshake.borrow_mut();
        if !h.remote_set {
            if h.pending.len() >= PENDING_CANDIDATES {
                return false;
            }
            h.pending.push(candidate);
            return true;
        }
        let pc = self.pc.clone();
        wasm_bindgen_futures::spawn_local(async move { add_candidate(&pc, &candidate).await });
        true
    }

    /// Detaches every handler, then closes the connection: no callback runs into a dropped
    /// closure. (To let queued frames go first, [`Transport::close`] the channel instead.)
    pub fn shut(self) {
        self.pc.set_onicecandidate(None);
        self.pc.set_onconnectionstatechange(None);
        self.channel.set_onopen(None);
        self.channel.set_onmessage(None);
        self.channel.set_onclose(None);
        self.channel.close();
        self.pc.close();
    }
}

impl Transport for Link {
    fn send(&self, bytes: &[u8]) -> bool {
        self.is_open() && self.channel.send_with_u8_array(bytes).is_ok()
    }

    fn is_open(&self) -> bool {
        self.channel.ready_state() == RtcDataChannelState::Open
    }

    fn close(&self) {
        self.channel.close();
    }

    fn kind(&self) -> &'static str {
        if self.turn.get() {
            "turn"
        } else {
            "direct"
        }
    }
}

/// Whether an `RTCStatsReport` says the selected candidate pair goes through a TURN server
/// (its local or remote candidate is a relay candidate). The selected pair: the transport's `selectedCandidatePairId` (Chromium),
/// else a pair marked `selected` (Firefox) or nominated and succeeded.
fn through_turn(report: &JsValue) -> bool {
    let get = |o: &JsValue, k: &str| js_sys::Reflect::get(o, &JsValue::from_str(k)).ok();
    let text = |o: &JsValue, k: &str| get(o, k).and_then(|v| v.as_string());
    let Some(values) = get(report, "values")
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .and_then(|f| f.call0(report).ok())
        .and_then(|it| js_sys::try_iter(&it).ok().flatten())
    else {
        return false;
    };
    let stats: Vec<JsValue> = values.filter_map(Result::ok).collect();
    let by_id = |id: &str| stats.iter().find(|s| text(s, "id").as_deref() == Some(id));
    let selected = stats
        .iter()
        .filter(|s| text(s, "type").as_deref() == Some("transport"))
        .find_map(|t| text(t, "selectedCandidatePairId"))
        .and_then(|id| by_id(&id))
        .or_else(|| {
            stats.iter().find(|s| {
                text(s, "type").as_deref() == Some("candidate-pair")
                    && (get(s, "selected").and_then(|v| v.as_bool()) == Some(true)
                        || (get(s, "nominated").and_then(|v| v.as_bool()) == Some(true)
                            && text(s, "state").as_deref() == Some("succeeded")))
            })
        });
    // Either end's relay candidate puts the path through a TURN server (the other end may
    // reach that relay from a host candidate).
    let relayed = |pair: &JsValue, end: &str| {
        text(pair, end)
            .and_then(|id| by_id(&id))
            .and_then(|c| text(c, "candidateType"))
            .is_some_and(|t| t == "relay")
    };
    selected
        .is_some_and(|pair| relayed(pair, "localCandidateId") || relayed(pair, "remoteCandidateId"))
}

/// A data channel message as a [`Frame`]. The size is checked before anything is copied into
/// wasm memory: a peer can send a message of a gigabyte. A text frame is not a message: its
/// bytes go to the decoder, which refuses and counts them.
fn frame_of(data: &JsValue) -> Frame {
    if let Some(buffer) = data.dyn_ref::<js_sys::ArrayBuffer>() {
        let len = buffer.byte_length() as usize;
        if len > MAX_MESSAGE_BYTES {
            return Frame::TooLarge(len);
        }
        return Frame::Bytes(Uint8Array::new(buffer).to_vec());
    }
    let text = data.as_string().unwrap_or_default();
    if text.len() > MAX_MESSAGE_BYTES {
        Frame::TooLarge(text.len())
    } else {
        Frame::Bytes(text.into_bytes())
    }
}

/// Makes this side's description (an offer or an answer) and sets it as local.
async fn describe(pc: &RtcPeerConnection, kind: DescriptionKind) -> Option<Description> {
    let made = match kind {
        DescriptionKind::Offer => pc.create_offer(),
        DescriptionKind::Answer => pc.create_answer(),
    };
    let init: RtcSessionDescriptionInit = JsFuture::from(made).await.ok()?.unchecked_into();
    JsFuture::from(pc.set_local_description(&init)).await.ok()?;
    let sdp = init.get_sdp()?;
    Some(Description { kind, sdp })
}

async fn add_candidate(pc: &RtcPeerConnection, candidate: &Candidate) {
    let init: RtcIceCandidateInit = to_js(candidate).unchecked_into();
    let _ = JsFuture::from(pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init))).await;
}
