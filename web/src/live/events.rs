//! The node loop: every [`Event`] (a transport's, a signaller's, the clock's) to the method
//! that handles it, the tick, and draining the node after each input (its events to the view,
//! its outbox to each peer's transport). The tab's leave is here too.

use super::js::now;
use super::state::{Arrival, Live, Peer};
use super::transport::{Event, Frame, ServerState, Transport, Via};
use grapevine_core::lab::live::LiveEvent;
use grapevine_core::lab::rumor::RumorEvent;
use grapevine_core::lab::wire::WireError;
use grapevine_core::lab::NodeId;
use grapevine_core::signal::{peer_hex, LinkSignal, Signal};

/// How often the mesh is asked for the links it is missing, ms.
const PLAN_EVERY_MS: f64 = 1_000.0;
/// How often the tab tells the server its links, ms.
const REPORT_EVERY_MS: f64 = 5_000.0;
/// Rumors the page keeps and shows at most.
const RUMORS_SHOWN: usize = 200;

impl Live {
    /// One event from a transport, a signaller or the clock.
    pub fn handle(&mut self, event: Event) {
        match event {
            Event::Tick => self.tick(),
            Event::PageHide => self.shut_down(),
            Event::Discovered(peer, via) => self.discover(peer, via),
            Event::Roster(here) => self.on_roster(here),
            Event::Gone { peer, closing } => self.on_gone(peer, closing),
            Event::Signal(peer, signal, via) => self.on_signal(peer, signal, via),
            Event::Outgoing(peer, generation, signal) => self.on_outgoing(peer, generation, signal),
            Event::LinkOpen(peer, generation) => self.on_link_open(peer, generation),
            Event::Frame(peer, generation, frame) => {
                if self.direct(peer, generation).is_some() {
                    self.take_frame(peer, frame);
                }
            }
            Event::Relayed(peer, frame) => self.take_frame(peer, frame),
            Event::LinkClosed(peer, generation, why) => self.on_link_closed(peer, generation, why),
            Event::Server(state) => self.on_server(state),
            Event::Welcome(ice, limits) => self.on_welcome(ice, limits),
            Event::Conductor(peer) => self.on_conductor(peer),
            Event::ConductorRefused(reason) => self.on_conductor_refused(reason),
            Event::Order(text) => self.on_order(text),
            Event::JoinCode(code, rotates_in_ms) => self.on_join_code(code, rotates_in_ms),
            Event::Addresses(door) => {
                self.server_locked = Some(door.locked);
                self.door = door;
            }
            Event::Reconnect => self.on_reconnect(),
        }
    }

    /// A frame from `peer`, whatever carried it.
    fn take_frame(&mut self, peer: NodeId, frame: Frame) {
        match frame {
            Frame::Bytes(bytes) => self.node.handle_bytes(now(), peer, &bytes),
            Frame::TooLarge(len) => self.node.refuse(peer, WireError::TooLarge(len)),
        }
        self.after_input();
    }

    /// The node's deadlines; late, failed and retried direct links; links to make; the
    /// relay's frames; the report to the server.
    fn tick(&mut self) {
        let t = now();
        if self.node.poll_timeout().is_some_and(|d| d <= t) {
            self.node.handle_timeout(t);
        }
        let wall = js_sys::Date::now();
        self.tend_links(t, wall);
        if wall >= self.next_plan && !self.shutting_down {
            self.next_plan = wall + PLAN_EVERY_MS;
            for peer in self.mesh.to_link(t) {
                self.connect(peer);
            }
        }
        // Not before the welcome: the server takes the key's proof as the first frame and
        // closes a connection that sends anything else first.
        if wall >= self.next_report && self.server == ServerState::Connected {
            self.next_report = wall + REPORT_EVERY_MS;
            let direct = self.peers.values().filter(|p| p.direct_open).count() as u32;
            let relay = self
                .peers
                .values()
                .filter(|p| !p.direct_open && p.relay.is_some())
                .count() as u32;
            self.signaling.report_links(direct, relay);
        }
        self.after_input();
        self.signaling.flush_relay();
    }

    /// Drains the node's events and outbox.
    pub(super) fn after_input(&mut self) {
        while let Some(event) = self.node.poll_event() {
            match event {
                LiveEvent::Rumor(RumorEvent::Learned { rumor, from }) => {
                    // born_ms is the origin's word: any u64.
                    let latency_ms = (i128::from(now().0) - i128::from(rumor.born_ms))
                        .clamp(i128::from(i64::MIN), i128::from(i64::MAX))
                        as i64;
                    if self.rumors.len() >= RUMORS_SHOWN {
                        // Forget the oldest-numbered (a flood of rumors must not grow the page).
                        if let Some(oldest) = self.rumors.keys().next().copied() {
                            self.rumors.remove(&oldest);
                        }
                    }
                    self.rumors.insert(
                        rumor.id,
                        Arrival {
                            from,
                            hops: rumor.hops,
                            text: rumor.text,
                            latency_ms,
                        },
                    );
                }
                LiveEvent::OtherVersion { peer, version } => {
                    self.say(format!(
                        "member {} runs another version of Grapevine (wire {version}, this page {}): \
                         its messages are ignored; reload its page so both run the server's version",
                        peer_hex(peer),
                        grapevine_core::lab::wire::VERSION
                    ));
                }
                LiveEvent::Refused { peer, error } => {
                    self.say(format!("refused bytes from {}: {error}", peer_hex(peer)));
                }
                LiveEvent::HalfOpen { peer } => {
                    // It still holds a link this page dropped (the refusal was lost): again.
                    let via = self.peers.get(&peer).map_or(Via::Server, |p| p.via);
                    self.signal(
                        peer,
                        via,
                        Signal::Link {
                            link: LinkSignal::Busy,
                        },
                    );
                }
                _ => {}
            }
        }
        self.flush();
    }

    /// Sends the node's outbox over each peer's transport.
    pub(super) fn flush(&mut self) {
        while let Some((to, bytes)) = self.node.poll_transmit() {
            if let Some(t) = self.peers.get(&to).and_then(Peer::transport) {
                t.send(&bytes);
            }
        }
    }

    /// The tab is going away: a graceful leave, a goodbye to every member known over the
    /// relay (so those without a link to this tab hear it too), "bye" to this browser's
    /// tabs, every link closed gracefully (what is queued, the leave among it, goes out
    /// first; the browser tears the connections down as the page goes, and the peers see the
    /// channels close).
    pub(super) fn shut_down(&mut self) {
        self.shutting_down = true;
        let t = now();
        self.node.leave(t);
        self.flush();
        let (bye, to) = self.node.goodbye();
        if let Some(outbox) = self.signaling.outbox().borrow_mut().as_mut() {
            for member in to {
                outbox.push(t.0, member, &bye);
            }
        }
        if let Some(t) = &self.tabs {
            t.bye();
        }
        for p in self.peers.values() {
            if let Some(d) = p.direct.as_ref() {
                d.close();
            }
        }
        self.signaling.close();
    }
}
