//! A live room's run as data: the lines `grapevine peer --json` writes (JSON lines, one event
//! a line), read back into each rumor's arrivals and its figures measured in gossip intervals,
//! the simulator's rounds, so that a recorded room can be drawn beside the simulator's runs of
//! the same size, fanout and loss (`grapevine sweep --room FILE`).
//!
//! A record starts with a [`Line::Room`] (the settings the room ran with); a
//! [`Line::Rumor`] says that a member learned a rumor, from whom, at how many hops and how long
//! after the rumor's birth; every other line (members' statuses, conductor's orders, the
//! summary) is kept out of the figures. The types are serde's, so every reader parses the same
//! lines the same way; the core itself reads no text (the command line parses with
//! `serde_json`).
//!
//! A rumor's figures are those of a simulated run, with time in intervals instead of rounds:
//! a room is asynchronous, and a member pushes once an interval, as a simulated node does once
//! a round. A recorded room has a member clock each: times are the member's arrival minus the
//! rumor's birth on the origin's clock, so machines whose clocks disagree shift them.

use super::conduct::Command;
use super::live::LiveNode;
use super::room::RoomMember;
use super::rumor::RumorId;
use super::NodeId;
use crate::experiment::Summary;
use crate::signal::peer_hex;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// One line of a room's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Line {
    /// The room's settings, the record's first line.
    Room {
        /// Members recorded: `grapevine peer --count`'s (the record holds what they heard).
        members: u32,
        /// Peers a member pushes to each interval.
        fanout: u8,
        /// The gossip interval, ms.
        interval_ms: u32,
        /// Loss on send, 0 to 1.
        loss: f64,
    },
    /// Member `peer` learned `rumor` (`origin:seq`) from `from` (itself for the rumor's
    /// origin; absent in records written before 2026-12-07), `hops` hops from the origin,
    /// `latency_ms` after the rumor's birth.
    Rumor {
        /// Who learned it (16 hex digits).
        peer: String,
        /// Which rumor: its origin's id and number, `origin:seq`.
        rumor: String,
        /// Who told it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// Hops from the origin.
        hops: u16,
        /// How long after the rumor's birth, ms (negative when clocks disagree).
        latency_ms: i64,
    },
    /// Member `peer` holds `member` as `status` (`alive`, `suspect`, `dead`, `left`).
    Member {
        /// Who says it.
        peer: String,
        /// Of whom.
        member: String,
        /// The state.
        status: String,
    },
    /// Member `peer` holds a link to `member`, carried `carrier` (`direct`, `turn`, `relay`).
    Link {
        /// One end.
        peer: String,
        /// The other.
        member: String,
        /// What carries it.
        carrier: String,
    },
    /// Member `peer` took the conductor's order (`order`, in words), and then ran with
    /// `fanout` and `interval_ms`, in split group `group` (0 when the room is whole), frozen or
    /// not.
    Order {
        /// Who took it.
        peer: String,
        /// The order, as the log says it.
        order: String,
        /// The fanout after it.
        fanout: u8,
        /// The interval after it, ms.
        interval_ms: u32,
        /// The member's group after it.
        group: u8,
        /// Whether the member is frozen after it.
        frozen: bool,
    },
    /// Any other event: the summary, lines a later version adds.
    #[serde(other)]
    Other,
}

impl Line {
    /// The line of `node` having just taken the order `command`: what `grapevine peer --json`
    /// writes and the conductor's page keeps for its record.
    pub fn order(node: &LiveNode, command: &Command) -> Line {
        let config = node.config();
        Line::Order {
            peer: peer_hex(node.id()),
            order: command.describe(),
            fanout: config.rumor.fanout,
            interval_ms: config.rumor.interval_ms,
            group: node.podium().group_of(node.id()),
            frozen: node.is_frozen(),
        }
    }
}

/// A room's record as one member sees it (the conductor's page exports it): the settings
/// (`members`: those listed and not gone), each rumor in `rumors` (id, birth on its origin's
/// clock) as every member's own record says it heard it, then each member's status and links.
/// The records are the room view's (see [`super::room`]): a member keeps its last
/// [`super::room::HEARD_SLOTS`] rumors.
pub fn room_lines(
    me: NodeId,
    room: &[RoomMember],
    rumors: &[(RumorId, u64)],
    (fanout, interval_ms, loss): (u8, u32, f64),
) -> Vec<Line> {
    let members = room.iter().filter(|m| m.status.is_member()).count() as u32;
    let mut lines = alloc::vec![Line::Room {
        members,
        fanout,
        interval_ms,
        loss,
    }];
    for &(id, born_ms) in rumors {
        let name = format!("{}:{}", peer_hex(id.origin), id.seq);
        for m in room {
            if let Some(h) = m.heard(id) {
                let after = (i128::from(h.at_ms) - i128::from(born_ms)).clamp(-(1 << 53), 1 << 53);
                lines.push(Line::Rumor {
                    peer: peer_hex(m.id),
                    rumor: name.clone(),
                    from: Some(peer_hex(h.from)),
                    hops: h.hops,
                    latency_ms: after as i64,
                });
            }
        }
    }
    for m in room {
        lines.push(Line::Member {
            peer: peer_hex(me),
            member: peer_hex(m.id),
            status: m.status.name().into(),
        });
        for &(to, carrier) in &m.record.links {
            lines.push(Line::Link {
                peer: peer_hex(m.id),
                member: peer_hex(to),
                carrier: carrier.name().into(),
            });
        }
    }
    lines
}

/// A recorded room: its settings and what each rumor did.
#[derive(Clone, Debug, PartialEq)]
pub struct RoomRun {
    /// Members recorded.
    pub members: u32,
    /// Fanout.
    pub fanout: u8,
    /// Interval, ms.
    pub interval_ms: u32,
    /// Loss.
    pub loss: f64,
    /// Each rumor's arrivals, in the order the rumors first appear.
    pub rumors: Vec<RumorRun>,
}

/// One rumor across a recorded room.
#[derive(Clone, Debug, PartialEq)]
pub struct RumorRun {
    /// `origin:seq`.
    pub rumor: String,
    /// Each member that learned it, once (its first line), with how long after the birth, ms,
    /// and whether it is the origin.
    pub arrivals: BTreeMap<String, (i64, bool)>,
}

/// A rumor's figures, as a simulated run's ([`crate::experiment::RunFigures`]), in intervals.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measured {
    /// When the last member learned it, if every member recorded did.
    pub rounds_to_full: Option<f64>,
    /// Share of the members recorded that never learned it.
    pub residue: f64,
    /// Mean time at which a member other than the origin learned it (0 if none did).
    pub t_ave: f64,
    /// When the last member learned it (0 if none did).
    pub t_last: f64,
}

/// The figures a recorded room has, by their names in a sweep's output.
pub const MEASURED_FIGURES: [&str; 4] = ["rounds_to_full", "residue", "t_ave", "t_last"];

impl RoomRun {
    /// The room of a record's lines, numbered from 1 in errors: the first MUST be
    /// [`Line::Room`], with at least one member and an interval; a rumor line's member is
    /// counted once per rumor (its first line).
    pub fn from_lines(lines: impl IntoIterator<Item = Line>) -> Result<RoomRun, String> {
        let mut lines = lines.into_iter();
        let Some(Line::Room {
            members,
            fanout,
            interval_ms,
            loss,
        }) = lines.next()
        else {
            return Err(
                "line 1: a room's record starts with its settings, {\"event\":\"room\",...} \
                 (grapevine peer --json writes it)"
                    .into(),
            );
        };
        if members == 0 || interval_ms == 0 || !(0.0..=1.0).contains(&loss) {
            return Err(format!(
                "line 1: a room of {members} members, interval {interval_ms} ms, loss {loss}: \
                 none of them can be recorded"
            ));
        }
        let mut rumors: Vec<RumorRun> = Vec::new();
        // Where each rumor is in `rumors`: a long record holds many.
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        for line in lines {
            let Line::Rumor {
                peer,
                rumor,
                from,
                latency_ms,
                ..
            } = line
            else {
                continue;
            };
            let origin = from.as_deref() == Some(peer.as_str());
            let at = match index.get(&rumor) {
                Some(&at) => at,
                None => {
                    index.insert(rumor.clone(), rumors.len());
                    rumors.push(RumorRun {
                        rumor,
                        arrivals: BTreeMap::new(),
                    });
                    rumors.len() - 1
                }
            };
            rumors[at]
                .arrivals
                .entry(peer)
                .or_insert((latency_ms, origin));
        }
        Ok(RoomRun {
            members,
            fanout,
            interval_ms,
            loss,
            rumors,
        })
    }

    /// The room of a record's text (JSON lines; blank lines skipped), each line parsed by
    /// `parse` (the command line's `serde_json`, the page's `JSON.parse`: the core reads no
    /// text), numbered from 1 in errors. A record without a rumor is refused: it has nothing
    /// to draw beside a simulation.
    pub fn read(
        text: &str,
        mut parse: impl FnMut(&str) -> Result<Line, String>,
    ) -> Result<RoomRun, String> {
        let lines = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| parse(line).map_err(|e| format!("line {}: {e}", i + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        let run = RoomRun::from_lines(lines)?;
        if run.rumors.is_empty() {
            return Err(
                "no rumor in it (grapevine peer --rumors 1 --rumor-every 8 --json starts one)"
                    .into(),
            );
        }
        Ok(run)
    }

    /// Where the room sits among the points of a sweep or a comparison that varies the
    /// settings `vary` (name and values, the x-axis first): the room's value of each, and its
    /// place on the x-axis (the value itself when the axis' values are numbers, else its
    /// index among them, as [`crate::sweep::positions`] places the points). A room is placed
    /// by its nodes (its members), fanout, loss or protocol (a room pushes); any other
    /// setting, or a category the axis does not have, is refused, named.
    pub fn place<'a>(
        &self,
        vary: impl IntoIterator<Item = (&'a str, &'a [String])>,
    ) -> Result<(Vec<(String, String)>, f64), String> {
        let mut point = Vec::new();
        let mut x = None;
        for (name, values) in vary {
            let value = match name {
                "nodes" => self.members.to_string(),
                "fanout" => self.fanout.to_string(),
                "loss" => format!("{}", self.loss),
                "protocol" => "push".into(),
                other => {
                    return Err(format!(
                        "a room is placed by its nodes, fanout, loss or protocol, not {other}"
                    ))
                }
            };
            if x.is_none() {
                x = Some(match crate::sweep::positions(values) {
                    (_, true) => value.parse::<f64>().unwrap_or_default(),
                    (_, false) => values.iter().position(|v| *v == value).ok_or_else(|| {
                        format!("its {name} is {value}, which the sweep does not vary over")
                    })? as f64,
                });
            }
            point.push((String::from(name), value));
        }
        let x = x.ok_or("nothing varied to place the room by")?;
        Ok((point, x))
    }

    /// Each rumor's figures.
    pub fn measured(&self) -> Vec<Measured> {
        self.rumors
            .iter()
            .map(|r| r.measured(self.members, self.interval_ms))
            .collect()
    }

    /// `figure` (one of [`MEASURED_FIGURES`]) over the rumors that reached it, as a sweep
    /// summarises a point's runs; `None` for a figure a room does not measure, or that no
    /// rumor reached.
    pub fn summary(&self, figure: &str) -> Option<(Summary, u32)> {
        let pick = |m: &Measured| match figure {
            "rounds_to_full" => m.rounds_to_full,
            "residue" => Some(m.residue),
            "t_ave" => Some(m.t_ave),
            "t_last" => Some(m.t_last),
            _ => None,
        };
        Summary::of_present(self.measured().iter().map(pick))
    }
}

impl RumorRun {
    /// Its figures in a room of `members` gossiping every `interval_ms`.
    pub fn measured(&self, members: u32, interval_ms: u32) -> Measured {
        let interval = f64::from(interval_ms);
        let informed = self.arrivals.len().min(members as usize);
        let others: Vec<f64> = self
            .arrivals
            .values()
            .filter(|(_, origin)| !origin)
            .map(|&(ms, _)| ms.max(0) as f64 / interval)
            .collect();
        let t_last = self
            .arrivals
            .values()
            .map(|&(ms, _)| ms.max(0) as f64 / interval)
            .fold(0.0, f64::max);
        Measured {
            rounds_to_full: (informed == members as usize).then_some(t_last),
            residue: 1.0 - informed as f64 / f64::from(members),
            t_ave: match others.len() {
                0 => 0.0,
                n => others.iter().sum::<f64>() / n as f64,
            },
            t_last,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn rumor(peer: &str, from: &str, latency_ms: i64) -> Line {
        Line::Rumor {
            peer: peer.into(),
            rumor: "a:0".into(),
            from: Some(from.into()),
            hops: 1,
            latency_ms,
        }
    }

    #[test]
    fn a_rumors_figures_are_a_runs_in_intervals() {
        let room = Line::Room {
            members: 4,
            fanout: 1,
            interval_ms: 500,
            loss: 0.0,
        };
        let lines = [
            room.clone(),
            rumor("a", "a", 0),
            Line::Other,
            rumor("b", "a", 500),
            rumor("c", "b", 1_500),
            // A second line for a member counts once.
            rumor("c", "a", 2_000),
        ];
        let run = RoomRun::from_lines(lines.clone()).unwrap();
        assert_eq!(run.rumors.len(), 1);
        let m = run.measured()[0];
        assert_eq!(m.rounds_to_full, None, "d never heard it");
        assert_eq!(m.residue, 0.25);
        assert_eq!(m.t_ave, 2.0, "b at 1, c at 3 intervals");
        assert_eq!(m.t_last, 3.0);
        let mut all = lines.to_vec();
        all.push(rumor("d", "c", 2_500));
        let run = RoomRun::from_lines(all).unwrap();
        assert_eq!(run.measured()[0].rounds_to_full, Some(5.0));
        let (summary, n) = run.summary("rounds_to_full").unwrap();
        assert_eq!((summary.mean, n), (5.0, 1));
        assert!(run.summary("messages_per_node").is_none());
    }

    #[test]
    fn the_lines_grapevine_peer_writes_are_read() {
        let text = [
            r#"{"event":"room","members":2,"fanout":1,"interval_ms":500,"loss":0.1}"#,
            r#"{"event":"member","peer":"00000000000000aa","member":"00000000000000bb","status":"alive"}"#,
            r#"{"event":"rumor","peer":"00000000000000aa","rumor":"00000000000000aa:0","from":"00000000000000aa","hops":0,"latency_ms":0}"#,
            // Written before records said from whom.
            r#"{"event":"rumor","peer":"00000000000000bb","rumor":"00000000000000aa:0","hops":1,"latency_ms":750}"#,
            r#"{"event":"summary","room":"class","sent":12,"theory":{"push_ms":1500.0}}"#,
            r#"{"event":"order","peer":"00000000000000aa","order":"the conductor healed the room","fanout":3,"interval_ms":1000,"group":0,"frozen":false}"#,
        ];
        let lines: Vec<Line> = text
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(matches!(lines[1], Line::Member { .. }));
        assert_eq!(lines[4], Line::Other);
        assert!(matches!(
            &lines[5],
            Line::Order {
                fanout: 3,
                frozen: false,
                ..
            }
        ));
        let run = RoomRun::from_lines(lines).unwrap();
        assert_eq!(
            (run.members, run.fanout, run.interval_ms, run.loss),
            (2, 1, 500, 0.1)
        );
        let m = run.measured()[0];
        assert_eq!((m.rounds_to_full, m.t_ave), (Some(1.5), 1.5));
        // And what is written is read back.
        let line = rumor("b", "a", 7);
        let json = serde_json::to_string(&line).unwrap();
        assert!(json.starts_with(r#"{"event":"rumor","#), "{json}");
        assert_eq!(serde_json::from_str::<Line>(&json).unwrap(), line);
    }

    #[test]
    fn a_rooms_records_are_exported_as_the_lines_a_sweep_reads() {
        use crate::lab::room::{Carrier, Heard, Record};
        use crate::lab::swim::MemberState;
        let id = |n: u64| NodeId(n);
        let rumor = RumorId {
            origin: id(1),
            seq: 0,
        };
        let heard = |from: u64, at_ms: u64, hops: u16| Heard {
            rumor,
            from: id(from),
            at_ms,
            hops,
            stopped_ms: None,
        };
        let member = |n: u64, status, heard: Option<Heard>| RoomMember {
            id: id(n),
            status,
            me: n == 1,
            record: Record {
                links: alloc::vec![(id(n % 3 + 1), Carrier::Relay)],
                heard: heard.into_iter().collect(),
                guess: None,
            },
        };
        let room = [
            member(1, MemberState::Alive, Some(heard(1, 10_000, 0))),
            member(2, MemberState::Alive, Some(heard(1, 10_400, 1))),
            member(3, MemberState::Suspect, Some(heard(2, 11_000, 2))),
            // Gone: not counted among the members.
            member(4, MemberState::Left, None),
        ];
        let lines = room_lines(id(1), &room, &[(rumor, 10_000)], (1, 200, 0.0));
        assert_eq!(
            lines[0],
            Line::Room {
                members: 3,
                fanout: 1,
                interval_ms: 200,
                loss: 0.0
            }
        );
        assert_eq!(lines[3], {
            Line::Rumor {
                peer: peer_hex(id(3)),
                rumor: alloc::format!("{}:0", peer_hex(id(1))),
                from: Some(peer_hex(id(2))),
                hops: 2,
                latency_ms: 1_000,
            }
        });
        let links = lines
            .iter()
            .filter(|l| matches!(l, Line::Link { .. }))
            .count();
        assert_eq!(links, 4);
        let run = RoomRun::from_lines(lines).unwrap();
        let m = run.measured()[0];
        assert_eq!(
            m.rounds_to_full,
            Some(5.0),
            "the last of 3 at 1,000 ms, 5 intervals"
        );
        assert_eq!(m.t_ave, 3.5, "2 and 5 intervals");
    }

    /// A room sits where a sweep or a comparison would put its settings: the command line
    /// and the page place it with this one rule.
    #[test]
    fn a_room_is_placed_by_its_settings_on_a_sweeps_axes() {
        let text = "\n{\"event\":\"room\",\"members\":9,\"fanout\":2,\"interval_ms\":500,\"loss\":0.1}\n\
                    {\"event\":\"rumor\",\"peer\":\"a\",\"rumor\":\"a:0\",\"from\":\"a\",\"hops\":0,\"latency_ms\":0}\n";
        let json = |l: &str| serde_json::from_str::<Line>(l).map_err(|e| e.to_string());
        let run = RoomRun::read(text, json).unwrap();
        let values = |v: &[&str]| v.iter().map(|s| String::from(*s)).collect::<Vec<_>>();
        let (nodes, protocols) = (values(&["4", "16"]), values(&["pull", "push"]));
        let (point, x) = run
            .place([("nodes", &nodes[..]), ("protocol", &protocols[..])])
            .unwrap();
        assert_eq!(
            (point, x),
            (
                vec![
                    ("nodes".into(), "9".into()),
                    ("protocol".into(), "push".into())
                ],
                9.0
            )
        );
        // Categories: its index among them, or refused when the axis lacks it.
        assert_eq!(run.place([("protocol", &protocols[..])]).unwrap().1, 1.0);
        let err = run
            .place([("protocol", &values(&["pull"])[..])])
            .unwrap_err();
        assert!(err.contains("its protocol is push"), "{err}");
        let err = run
            .place([("topology", &values(&["ring"])[..])])
            .unwrap_err();
        assert!(err.contains("not topology"), "{err}");
        // Lines numbered as in the file, blank ones counted; a record without a rumor refused.
        let err = RoomRun::read("\n{\"event\":\"rumor\"}", json).unwrap_err();
        assert!(err.starts_with("line 2: "), "{err}");
        let settings_only = text.lines().take(2).collect::<Vec<_>>().join("\n");
        let err = RoomRun::read(&settings_only, json).unwrap_err();
        assert!(err.starts_with("no rumor in it"), "{err}");
    }

    #[test]
    fn a_record_without_its_settings_is_refused_with_its_line() {
        let err = RoomRun::from_lines([rumor("a", "a", 0)]).unwrap_err();
        assert!(err.starts_with("line 1:"), "{err}");
        let err = RoomRun::from_lines([Line::Room {
            members: 0,
            fanout: 1,
            interval_ms: 500,
            loss: 0.0,
        }])
        .unwrap_err();
        assert!(err.contains("0 members"), "{err}");
    }
}
