//! The probe cycle, SWIM's failure detector: every period one member is probed (`Ping`),
//! indirectly through `k` others if no ack comes in time (`PingReq`), and suspected if the
//! period ends unanswered; a suspicion not refuted in time is a death. Lifeguard's parts
//! live here too, because they are the probe cycle's own feedback: the local health
//! multiplier that stretches this member's period and timeouts when it misses acks or
//! nacks (`scale`, `change_health`), the intermediaries' nacks, and the dynamic suspicion
//! timeout that shrinks as independent members confirm a suspicion. The timers here (the
//! period, the indirect probe, relays, suspicions) are all read by `poll_timeout` in
//! `node.rs`, so the member has one next deadline.

use super::config::ProbeOrder;
use super::message::{SwimMessage, Update};
use super::state::{Probe, Relay, Swim};
use super::view::{Incarnation, MemberState};
use crate::lab::{Millis, NodeId};
use alloc::collections::BTreeSet;
use alloc::vec::Vec;

impl Swim {
    /// Says whether this member can send to `peer` (live mode: a data channel is open). From
    /// the first call on, only members said reachable are probed and asked to probe.
    ///
    /// A probe of `peer` under way when it becomes unreachable is abandoned, not judged: the
    /// link went (one end swapped it for another, or its channel closed), and an answer lost
    /// with it says nothing of the member. Judged, every link swap in a room's cold start
    /// made the member at the other end suspect to the whole room for a refutation's time.
    /// (In a partial mesh the indirect phase rarely helps here: the helpers are this member's
    /// links, seldom the target's.) A member that crashes is still found: a closed tab or
    /// process closes its signaling connection too, and the server's word makes it suspect
    /// ([`crate::lab::live::LiveNode::handle_peer_gone`]); one that goes silent without
    /// closing anything (a phone asleep) keeps its channels open until they time out, and
    /// its links' probes, judged meanwhile, find it.
    pub fn set_reachable(&mut self, peer: NodeId, reachable: bool) {
        let set = self.reachable.get_or_insert_with(BTreeSet::new);
        if reachable {
            set.insert(peer);
        } else {
            set.remove(&peer);
            if self.probe.as_ref().is_some_and(|p| p.target == peer) {
                self.probe = None;
            }
        }
    }

    pub(super) fn can_reach(&self, peer: NodeId) -> bool {
        self.reachable.as_ref().is_none_or(|r| r.contains(&peer))
    }

    /// `count` distinct random reachable members in state Alive, other than `except`.
    pub(super) fn random_alive(&mut self, count: usize, except: NodeId) -> Vec<NodeId> {
        let pool: Vec<NodeId> = self
            .members
            .iter()
            .filter(|(&id, m)| {
                id != except && m.view.state == MemberState::Alive && self.can_reach(id)
            })
            .map(|(&id, _)| id)
            .collect();
        self.rng.sample_distinct(pool, count)
    }

    /// The next member to probe: round-robin over a shuffled list (section 4.3), or random.
    fn next_target(&mut self) -> Option<NodeId> {
        if self.config.probe_order == ProbeOrder::Random {
            let members: Vec<NodeId> = self
                .members
                .iter()
                .filter(|(&id, m)| m.view.state.is_member() && self.can_reach(id))
                .map(|(&id, _)| id)
                .collect();
            return (!members.is_empty())
                .then(|| members[self.rng.below(members.len() as u32) as usize]);
        }
        for _ in 0..2 {
            while self.probe_next < self.probe_order.len() {
                let id = self.probe_order[self.probe_next];
                self.probe_next += 1;
                if self
                    .members
                    .get(&id)
                    .is_some_and(|m| m.view.state.is_member())
                    && self.can_reach(id)
                {
                    return Some(id);
                }
            }
            // End of the list: drop those gone, reshuffle, start over.
            let members = &self.members;
            self.probe_order
                .retain(|id| members.get(id).is_some_and(|m| m.view.state.is_member()));
            for i in (1..self.probe_order.len()).rev() {
                let j = self.rng.below(i as u32 + 1) as usize;
                self.probe_order.swap(i, j);
            }
            self.probe_next = 0;
        }
        None
    }

    /// The end of a period: judge its probe, then start the next.
    pub(super) fn new_period(&mut self, now: Millis) {
        if let Some(probe) = self.probe.take() {
            if probe.acked {
                self.change_health(-1);
            } else {
                // Lifeguard: missing nacks mean this member is not hearing others either.
                let missed = probe.nacks_expected.saturating_sub(probe.nacks);
                self.change_health(if probe.nacks_expected > 0 {
                    i32::from(missed)
                } else {
                    1
                });
                if self
                    .member(probe.target)
                    .is_some_and(|v| v.incarnation == probe.incarnation)
                {
                    self.suspect(now, probe.target);
                }
            }
        }
        self.next_period = now.after(self.scale(self.config.period_ms));
        let Some(target) = self.next_target() else {
            return;
        };
        let seq = self.next_seq();
        let updates = self.piggyback(target);
        self.send(target, SwimMessage::Ping { seq, updates });
        let incarnation = self
            .member(target)
            .map_or(Incarnation(0), |v| v.incarnation);
        self.probe = Some(Probe {
            target,
            incarnation,
            seq,
            indirect_at: now.after(self.scale(self.config.ack_timeout_ms)),
            indirect_sent: false,
            acked: false,
            nacks_expected: 0,
            nacks: 0,
        });
    }

    fn go_indirect(&mut self) {
        let Some(probe) = self.probe.as_ref() else {
            return;
        };
        let (target, seq) = (probe.target, probe.seq);
        let helpers = self.random_alive(usize::from(self.config.indirect_probes), target);
        for &helper in &helpers {
            let updates = self.piggyback(helper);
            self.send(
                helper,
                SwimMessage::PingReq {
                    seq,
                    target,
                    updates,
                },
            );
        }
        let probe = self.probe.as_mut().expect("probing");
        probe.indirect_sent = true;
        if self.config.lifeguard.is_some() {
            probe.nacks_expected = helpers.len() as u8;
        }
    }

    /// A probe: answered with an `Ack` carrying the same `seq`.
    pub(super) fn handle_ping(
        &mut self,
        now: Millis,
        from: NodeId,
        seq: u32,
        updates: Vec<Update>,
    ) {
        self.take(now, from, updates, false);
        let updates = self.piggyback(from);
        self.send(from, SwimMessage::Ack { seq, updates });
    }

    /// An ack: of this member's own probe, or of one it runs for another (forwarded).
    pub(super) fn handle_ack(&mut self, now: Millis, from: NodeId, seq: u32, updates: Vec<Update>) {
        self.take(now, from, updates, false);
        if let Some(probe) = self.probe.as_mut().filter(|p| p.seq == seq) {
            probe.acked = true;
        } else if let Some(at) = self.relays.iter().position(|r| r.seq == seq) {
            let relay = self.relays.swap_remove(at);
            let updates = self.piggyback(relay.origin);
            self.send(
                relay.origin,
                SwimMessage::Ack {
                    seq: relay.origin_seq,
                    updates,
                },
            );
        }
    }

    /// "Probe `target` for me": ping it, and remember to forward its ack (or, with
    /// Lifeguard, to nack in time).
    pub(super) fn handle_ping_req(
        &mut self,
        now: Millis,
        from: NodeId,
        origin_seq: u32,
        target: NodeId,
        updates: Vec<Update>,
    ) {
        self.take(now, from, updates, false);
        let seq = self.next_seq();
        let updates = self.piggyback(target);
        self.send(target, SwimMessage::Ping { seq, updates });
        // Lifeguard nacks at 80 % of the ack timeout, so the nack beats the requester's
        // own deadline (memberlist's choice); plain SWIM forwards acks for a period.
        let wait = if self.config.lifeguard.is_some() {
            u64::from(self.config.ack_timeout_ms) * 4 / 5
        } else {
            u64::from(self.config.period_ms)
        };
        self.relays.push(Relay {
            seq,
            origin: from,
            origin_seq,
            deadline: now.after(wait.max(1)),
        });
    }

    /// Lifeguard: an intermediary of this member's probe heard nothing from the target.
    pub(super) fn handle_nack(&mut self, seq: u32) {
        if let Some(probe) = self.probe.as_mut().filter(|p| p.seq == seq) {
            probe.nacks += 1;
        }
    }

    /// Suspicions that ran out: declared dead.
    pub(super) fn expire_suspicions(&mut self, now: Millis) {
        let expired: Vec<Update> = self
            .suspects
            .iter()
            .map(|id| (*id, &self.members[id]))
            .filter(|(_, m)| m.suspicion.as_ref().is_some_and(|s| s.deadline <= now))
            .map(|(member, m)| Update {
                member,
                incarnation: m.view.incarnation,
                state: MemberState::Dead,
                from: self.id,
                proof: m.proof(),
            })
            .collect();
        for update in expired {
            self.apply(now, update);
        }
    }

    /// Relays that heard nothing: a nack (Lifeguard), or forget them.
    pub(super) fn expire_relays(&mut self, now: Millis) {
        let lifeguard = self.config.lifeguard.is_some();
        let (due, keep): (Vec<Relay>, Vec<Relay>) =
            self.relays.drain(..).partition(|r| r.deadline <= now);
        self.relays = keep;
        if lifeguard {
            for relay in due {
                self.send(
                    relay.origin,
                    SwimMessage::Nack {
                        seq: relay.origin_seq,
                    },
                );
            }
        }
    }

    /// No direct ack by the ack timeout: probe indirectly.
    pub(super) fn indirect_timeout(&mut self, now: Millis) {
        if self
            .probe
            .as_ref()
            .is_some_and(|p| !p.acked && !p.indirect_sent && p.indirect_at <= now)
        {
            self.go_indirect();
        }
    }

    /// Lifeguard: `ms` stretched by this member's local health, `× (health + 1)`.
    fn scale(&self, ms: u32) -> u64 {
        u64::from(ms) * (u64::from(self.health) + 1)
    }

    /// Lifeguard: raises (missed acks or nacks, a refutation) or lowers (an acked probe)
    /// the local health multiplier, within `0..=max_health`; nothing without Lifeguard.
    pub(super) fn change_health(&mut self, delta: i32) {
        if let Some(l) = self.config.lifeguard {
            self.health = (i32::from(self.health) + delta).clamp(0, i32::from(l.max_health)) as u8;
        }
    }

    /// The suspicion timeout in ms after `confirmations` independent confirmations:
    /// `α·max(1, log10 n)·T`, and with Lifeguard from β times that down to it, logarithmically.
    pub(super) fn suspicion_timeout(&self, confirmations: usize) -> u64 {
        let n = f64::from(self.group_size());
        let min = f64::from(self.config.suspicion_mult)
            * libm::log10(n).max(1.0)
            * f64::from(self.config.period_ms);
        let Some(lifeguard) = self.config.lifeguard else {
            return min as u64;
        };
        let max = f64::from(lifeguard.suspicion_max_mult) * min;
        // Expected confirmations: the indirect probers, at most the others in the group.
        let expected = f64::from(self.config.indirect_probes).min(n - 2.0);
        if expected < 1.0 {
            return min as u64;
        }
        let shrink = libm::log(confirmations as f64 + 1.0) / libm::log(expected + 1.0);
        (max - (max - min) * shrink).max(min) as u64
    }

    /// Lifeguard: another member independently suspects a suspect; the timeout shrinks.
    pub(super) fn confirm_suspicion(&mut self, now: Millis, update: Update) {
        if self.config.lifeguard.is_none() {
            return;
        }
        let Some(suspicion) = self
            .members
            .get(&update.member)
            .and_then(|m| m.suspicion.as_ref())
        else {
            return;
        };
        if suspicion.accusers.contains(&update.from) {
            return;
        }
        let confirmations = suspicion.accusers.len(); // after this one: accusers - 1 + 1
        let timeout = self.suspicion_timeout(confirmations);
        let member = self.members.get_mut(&update.member).expect("known");
        let suspicion = member.suspicion.as_mut().expect("suspect");
        suspicion.accusers.push(update.from);
        suspicion.deadline = suspicion.start.after(timeout).max(now);
        self.broadcast(update);
    }
}
