//! Tabs of this browser meet on a BroadcastChannel, no server needed: "I am here" (`hello`,
//! answered by `here`), the WebRTC handshake (`signal`), and "I am leaving" (`bye`). Any
//! script of this origin can post on the channel: a message of another shape is ignored.
//!
//! A tab that found its key in sessionStorage asks first whether another tab holds that id
//! (`claim`, answered `mine`, [`claim`]): a duplicated tab copies its original's
//! sessionStorage, key included, and would otherwise join as the original and push it out.

use super::js::{from_js, to_js};
use super::transport::{Event, Signaller, Sink, Via};
use grapevine_core::lab::NodeId;
use grapevine_core::signal::{parse_peer, peer_hex, Signal};
use serde::{Deserialize, Serialize};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BroadcastChannel, MessageEvent};

/// A message between tabs of one browser (ids as 16 hex digits, as the server writes them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum TabMessage {
    /// A tab opened.
    Hello { from: String },
    /// The answer to a hello, for its sender.
    Here { from: String, to: String },
    /// A handshake signal for `to`.
    Signal {
        from: String,
        to: String,
        data: Signal,
    },
    /// A tab is going away.
    Bye { from: String },
    /// "Does a tab hold this id?" (a tab that found its key in sessionStorage, before it
    /// joins).
    Claim { id: String },
    /// "I do": the answer to a claim, from the tab whose id it is.
    Mine { id: String },
}

/// This browser's tabs in one room.
pub struct Tabs {
    me: NodeId,
    channel: BroadcastChannel,
    _onmessage: Closure<dyn FnMut(JsValue)>,
}

impl Tabs {
    /// Joins the room's channel and says hello; `None` in a browser without BroadcastChannel.
    pub fn open(room: &str, me: NodeId, sink: Sink) -> Option<Tabs> {
        let channel = BroadcastChannel::new(&format!("grapevine-live/{room}")).ok()?;
        let reply = channel.clone();
        let onmessage = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let data = e.unchecked_into::<MessageEvent>().data();
            if let Some(event) = read(&reply, me, data) {
                sink(event);
            }
        });
        channel.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        let tabs = Tabs {
            me,
            channel,
            _onmessage: onmessage,
        };
        tabs.post(&TabMessage::Hello { from: peer_hex(me) });
        Some(tabs)
    }

    fn post(&self, message: &TabMessage) {
        let _ = self.channel.post_message(&to_js(message));
    }

    /// Tells the other tabs this one is going.
    pub fn bye(&self) {
        self.post(&TabMessage::Bye {
            from: peer_hex(self.me),
        });
    }

    /// Says goodbye and leaves the channel (this tab is not in the room: the server refused
    /// it). Its handler goes with it: closed first, so it is never called once dropped.
    pub fn leave(self) {
        self.bye();
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}

/// A question on the room's channel: does another tab hold `id`? `mine` is called for each
/// answer while the returned guard lives (dropping it leaves the channel). `None` without
/// BroadcastChannel.
pub fn claim(room: &str, id: NodeId, mine: impl Fn() + 'static) -> Option<Claim> {
    let channel = BroadcastChannel::new(&format!("grapevine-live/{room}")).ok()?;
    let onmessage = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        let data = e.unchecked_into::<MessageEvent>().data();
        if let Some(TabMessage::Mine { id: who }) = from_js::<TabMessage>(data) {
            if parse_peer(&who) == Some(id) {
                mine();
            }
        }
    });
    channel.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    let _ = channel.post_message(&to_js(&TabMessage::Claim { id: peer_hex(id) }));
    Some(Claim {
        channel,
        _onmessage: onmessage,
    })
}

/// Answers claims of `me` on the room's channel (`mine`) while it lives, from the moment this
/// tab knows its id is its own (a fresh key, or a kept one no tab claimed), whether or not
/// the server has welcomed it yet: a tab duplicated while its original waits for the server
/// (at the door, refused, offline) still hears that the id is taken. Its own channel, not
/// [`Tabs`]'s, which opens only once the server admits the tab. `None` without
/// BroadcastChannel.
pub fn answer_claims(room: &str, me: NodeId) -> Option<Claim> {
    let channel = BroadcastChannel::new(&format!("grapevine-live/{room}")).ok()?;
    let reply = channel.clone();
    let onmessage = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        let data = e.unchecked_into::<MessageEvent>().data();
        if let Some(TabMessage::Claim { id }) = from_js::<TabMessage>(data) {
            if parse_peer(&id) == Some(me) {
                let _ = reply.post_message(&to_js(&TabMessage::Mine { id }));
            }
        }
    });
    channel.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    Some(Claim {
        channel,
        _onmessage: onmessage,
    })
}

/// A claim's question, or the answers to others' ([`answer_claims`]): open until dropped.
pub struct Claim {
    channel: BroadcastChannel,
    _onmessage: Closure<dyn FnMut(JsValue)>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}

impl Signaller for Tabs {
    fn signal(&self, to: NodeId, signal: &Signal) {
        self.post(&TabMessage::Signal {
            from: peer_hex(self.me),
            to: peer_hex(to),
            data: signal.clone(),
        });
    }
}

/// What a message on the channel means for this tab (`me`), answering a hello on `channel`.
fn read(channel: &BroadcastChannel, me: NodeId, data: JsValue) -> Option<Event> {
    let message: TabMessage = from_js(data)?;
    let for_me = |to: &str| parse_peer(to) == Some(me);
    let event = match message {
        TabMessage::Hello { from } => {
            let from = parse_peer(&from).filter(|&f| f != me)?;
            let here = TabMessage::Here {
                from: peer_hex(me),
                to: peer_hex(from),
            };
            let _ = channel.post_message(&to_js(&here));
            Event::Discovered(from, Via::Tabs)
        }
        TabMessage::Here { from, to } if for_me(&to) => {
            Event::Discovered(parse_peer(&from)?, Via::Tabs)
        }
        TabMessage::Signal { from, to, data } if for_me(&to) => {
            Event::Signal(parse_peer(&from)?, data, Via::Tabs)
        }
        TabMessage::Bye { from } => Event::Gone {
            peer: parse_peer(&from).filter(|&f| f != me)?,
            closing: true,
        },
        _ => return None,
    };
    Some(event)
}
