//! The lessons, as data: each chapter's text, its one prediction, the run that answers it,
//! the one control to try and the puzzle the page checks. Every measured answer comes from
//! the core when the page runs the chapter's settings ([`super::measure`]); nothing here is
//! a result, only questions and settings (as the page's own URL parameters).

/// One chapter.
pub struct Chapter {
    /// Its title.
    pub title: &'static str,
    /// The idea, in one line (the list of lessons).
    pub idea: &'static str,
    /// The steps to read before anything runs, a few sentences each.
    pub intro: &'static [&'static str],
    /// Whether the student plays node 0 by hand first (chapter 1).
    pub hand: bool,
    /// The prediction, and the run that answers it; `None` for the live chapter.
    pub question: Option<Question>,
    /// What to watch while the run plays.
    pub watch: &'static str,
    /// What the gap between guess and measurement says.
    pub gap: Gap,
    /// The one control to try, and what to look for.
    pub knob: Option<Knob>,
    /// The chapter's puzzle, checked by running the core.
    pub puzzle: Option<Puzzle>,
    /// The last step's words, over the full simulator's link.
    pub takeaway: &'static str,
    /// A comparison the last step offers beside that link (the compare panel's URL
    /// parameters, over the question's settings), if the chapter's question is one of a
    /// setting's effect.
    pub compare: Option<&'static str>,
}

/// A prediction asked before a run.
pub struct Question {
    /// The question.
    pub ask: &'static str,
    /// The run that answers it, as the page's URL parameters (its seed fixed).
    pub setup: &'static str,
    /// What kind of answer.
    pub answer: Answer,
    /// Which of the run's figures answers it.
    pub measure: Measure,
}

/// What a guess is.
pub enum Answer {
    /// A number, in `unit`, from 0 to `max`.
    Number {
        /// The unit, for people ("rounds").
        unit: &'static str,
        /// The largest sensible guess.
        max: f64,
    },
    /// A percentage.
    Percent,
    /// One of several settings, each (label, URL parameters added to the setup); the measure
    /// is taken for each and the smallest wins.
    Choice(&'static [(&'static str, &'static str)]),
}

/// Which figure of a run answers a question (each read from the core).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Measure {
    /// Rounds until every live node knows (`RunFigures::rounds_to_full`).
    RoundsToAll,
    /// Percent of messages that told a node what it knew (`RunFigures::redundant_share`).
    Redundant,
    /// Percent of live nodes informed at the end (`1 - RunFigures::residue`).
    Informed,
    /// Percent of live nodes never informed (`RunFigures::residue`).
    Residue,
    /// Messages sent in the whole run.
    Messages,
    /// A lab figure, by the name `grapevine sim` prints.
    Figure(&'static str),
    /// A lab figure that is a share, in percent.
    FigurePercent(&'static str),
}

/// How the compare step speaks to the gap between guess and measurement.
pub struct Gap {
    /// The guess was well below.
    pub low: &'static str,
    /// The guess was within a fifth (or the right choice).
    pub close: &'static str,
    /// The guess was well above.
    pub high: &'static str,
}

/// One control with values to try.
pub struct Knob {
    /// The URL parameter it sets.
    pub param: &'static str,
    /// Its label.
    pub label: &'static str,
    /// The values to try (as the URL writes them).
    pub values: &'static [&'static str],
    /// What to look for.
    pub text: &'static str,
    /// Its own run, when the question's would not show it: (setup, the figure measured,
    /// its unit). `None`: the question's setup and figure.
    pub run: Option<(&'static str, Measure, &'static str)>,
}

/// A puzzle: the smallest value of one setting that meets a goal.
pub struct Puzzle {
    /// The puzzle, in words.
    pub ask: &'static str,
    /// The URL parameter the answer sets, on the question's setup.
    pub param: &'static str,
    /// The values to choose from, in increasing order.
    pub values: &'static [&'static str],
    /// The figure the goal is on.
    pub measure: Measure,
    /// The goal: the figure at most this (`true`) or at least this (`false`).
    pub at_most: bool,
    /// The goal's bound.
    pub bound: f64,
}

/// Push, fanout 1, 1,000 nodes: the run most chapters start from.
const BASE: &str = "nodes=1000&protocol=push&fanout=1&seed=7";

/// The chapters, in order (`?lesson=1` is the first).
pub const CHAPTERS: &[Chapter] = &[
    Chapter {
        title: "You are the gossip",
        idea: "Tell one random friend a round, and so does everyone you told.",
        intro: &[
            "Gossip spreads news the way a rumor crosses a school: every round, everyone who knows tells one person picked at random. No one is in charge, no one knows the whole network, and yet everyone hears.",
        ],
        hand: true,
        question: Some(Question {
            ask: "Now 1,000 nodes, push, fanout 1: everyone who knows tells one random node per round. How many rounds until all 1,000 know?",
            setup: BASE,
            answer: Answer::Number { unit: "rounds", max: 1000.0 },
            measure: Measure::RoundsToAll,
        }),
        watch: "Watch the orange spread: slow at first (one node can tell only one), then explosive (half the network telling the other half), then slow again (the last few unaware nodes are hard to hit at random).",
        gap: Gap {
            low: "Most people guess low: the last few nodes take many rounds, because a random pick rarely lands on the one node still unaware.",
            close: "Close. The doubling phase takes about log2(1000) = 10 rounds; the long tail adds about ln(1000) = 7 more.",
            high: "Far fewer than you thought: knowledge doubles every round at first, so 1,000 nodes need only about log2(1000) + ln(1000) = 17 rounds.",
        },
        knob: Some(Knob {
            param: "nodes",
            label: "Nodes",
            values: &["10", "100", "1000", "10000"],
            text: "Ten times more nodes adds only a few rounds.",
            run: None,
        }),
        puzzle: Some(Puzzle {
            ask: "Find the smallest fanout with which all 1,000 nodes know within 8 rounds (seed 7).",
            param: "fanout",
            values: &["1", "2", "3", "4", "5", "6"],
            measure: Measure::RoundsToAll,
            at_most: true,
            bound: 8.0,
        }),
        takeaway: "Random choices, no coordinator, and everyone hears in a logarithmic number of rounds. Open the full simulator to play with every setting.",
        compare: None,
    },
    Chapter {
        title: "Scalability",
        idea: "Rounds grow like log N; messages per node per round stay flat.",
        intro: &[
            "Gossip is used in Cassandra, Consul and Amazon's systems because it scales: each node does the same small amount of work however large the network grows. The time to reach everyone grows only like the logarithm of the size.",
        ],
        hand: false,
        question: Some(Question {
            ask: "1,000 nodes took 17 rounds with seed 7. How many rounds for 1,000,000 nodes (a thousand times more)?",
            setup: "nodes=1000000&protocol=push&fanout=1&seed=7&speed=0",
            answer: Answer::Number { unit: "rounds", max: 100000.0 },
            measure: Measure::RoundsToAll,
        }),
        watch: "A million nodes, one pixel each, in node order. Each round, every informed node sends exactly one message: the work per node never grows.",
        gap: Gap {
            low: "The tail is longer than it looks: the last unaware nodes of a million take more rounds to find.",
            close: "Right: a thousand times more nodes costs only about log2(1000) + ln(1000) = 17 more rounds.",
            high: "A thousand times the nodes, but only about twice the rounds: that is log N.",
        },
        knob: Some(Knob {
            param: "nodes",
            label: "Nodes",
            values: &["100", "1000", "10000", "100000", "1000000"],
            text: "Each tenfold step adds about 5.6 rounds (log2 10 + ln 10), and each node still sends one message a round.",
            run: None,
        }),
        puzzle: Some(Puzzle {
            ask: "Find the smallest network that push needs more than 20 rounds to inform (seed 7).",
            param: "nodes",
            values: &["1000", "3000", "10000", "30000", "100000", "300000", "1000000"],
            measure: Measure::RoundsToAll,
            at_most: false,
            bound: 21.0,
        }),
        takeaway: "Rounds grow like log N and each node's load stays flat: why gossip runs clusters of thousands of machines.",
        compare: None,
    },
    Chapter {
        title: "Fanout",
        idea: "Telling more friends is faster, and more of it is wasted.",
        intro: &[
            "Fanout is how many peers each informed node tells per round. More fanout means faster spread, but late in a run most messages reach nodes that already know: redundant messages, pure overhead.",
        ],
        hand: false,
        question: Some(Question {
            ask: "With fanout 3 on 1,000 nodes, what share of all messages will tell a node something it already knew?",
            setup: "nodes=1000&protocol=push&fanout=3&seed=7",
            answer: Answer::Percent,
            measure: Measure::Redundant,
        }),
        watch: "Yellow lines told news; grey lines told old news. Watch the grey take over once most nodes know.",
        gap: Gap {
            low: "Redundancy is the price of not knowing who knows: once most nodes are informed, nearly every message is wasted, and push keeps sending until the end.",
            close: "Right: most of gossip's traffic is redundant. That is what buys its robustness.",
            high: "Less than you thought, but still most of the traffic.",
        },
        knob: Some(Knob {
            param: "fanout",
            label: "Fanout",
            values: &["1", "2", "3", "4", "6", "8"],
            text: "Rounds fall as fanout grows, but the share of wasted messages rises.",
            run: None,
        }),
        puzzle: Some(Puzzle {
            ask: "Find the smallest fanout that informs all 1,000 nodes within 5 rounds (seed 7).",
            param: "fanout",
            values: &["1", "2", "3", "4", "5", "6", "7", "8", "10", "12", "16"],
            measure: Measure::RoundsToAll,
            at_most: true,
            bound: 5.0,
        }),
        takeaway: "Fanout trades time for messages. Memberlist uses 3; try it in the full simulator.",
        compare: Some("compare=fanout:1,2,3,4,6,8&runs=20"),
    },
    Chapter {
        title: "Resilience",
        idea: "Lost messages and crashed nodes slow gossip down; they do not stop it.",
        intro: &[
            "Networks lose messages and machines crash. A tree of messages breaks when one link fails; gossip has no tree. Each node keeps retrying with new random peers, so a lost message is just a round's delay.",
        ],
        hand: false,
        question: Some(Question {
            ask: "30 % of messages are lost and 20 % of the nodes have crashed. What share of the live nodes will end up informed?",
            setup: "nodes=1000&protocol=push&fanout=1&loss=0.3&crashed=0.2&seed=7",
            answer: Answer::Percent,
            measure: Measure::Informed,
        }),
        watch: "Dashed red lines are lost messages; pink nodes are crashed and never answer. Count the rounds as well as the informed.",
        gap: Gap {
            low: "Everyone alive is informed: under anti-entropy every informed node keeps gossiping, so loss and crashes only cost rounds.",
            close: "Right: all of them. Failures cost time, not coverage.",
            high: "All of them: every live node still hears.",
        },
        knob: Some(Knob {
            param: "loss",
            label: "Message loss",
            values: &["0", "0.1", "0.3", "0.5", "0.7", "0.9"],
            text: "Even at 90 % loss everyone alive is informed, only slower.",
            run: None,
        }),
        puzzle: Some(Puzzle {
            ask: "With 20 % crashed, find the smallest loss at which informing everyone alive takes more than 30 rounds (seed 7).",
            param: "loss",
            values: &["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8"],
            measure: Measure::RoundsToAll,
            at_most: false,
            bound: 31.0,
        }),
        takeaway: "Gossip degrades gracefully: failures cost rounds, not correctness.",
        compare: None,
    },
    Chapter {
        title: "Pull and push-pull",
        idea: "Asking beats telling at the end; doing both beats either.",
        intro: &[
            "In push, informed nodes tell others. In pull, every uninformed node asks a random peer 'any news?'. Push is fast at the start (many unaware targets), pull at the end (the unaware do the searching). Push-pull does both every round.",
        ],
        hand: false,
        question: Some(Question {
            ask: "Same 1,000 nodes, same seed. Which informs everyone in the fewest rounds?",
            setup: BASE,
            answer: Answer::Choice(&[
                ("push", "protocol=push"),
                ("pull", "protocol=pull"),
                ("push-pull", "protocol=pushpull"),
            ]),
            measure: Measure::RoundsToAll,
        }),
        watch: "Push-pull: green lines are pull requests. Watch how the last nodes, which push struggles to hit, find the news themselves.",
        gap: Gap {
            low: "Push-pull wins: its tail shrinks from ln N rounds to ln ln N (Karp et al., 2000).",
            close: "Right: push-pull is fastest, and it sends fewer messages per node than push too.",
            high: "Push-pull wins: its tail shrinks from ln N rounds to ln ln N (Karp et al., 2000).",
        },
        knob: Some(Knob {
            param: "protocol",
            label: "Protocol",
            values: &["push", "pull", "pushpull"],
            text: "Compare the rounds and the messages each protocol needs.",
            run: None,
        }),
        puzzle: Some(Puzzle {
            ask: "With push-pull, find the smallest network size that needs more than 12 rounds (seed 7).",
            param: "nodes",
            values: &["1000", "10000", "100000", "1000000"],
            measure: Measure::RoundsToAll,
            at_most: false,
            bound: 13.0,
        }),
        takeaway: "Push-pull is what anti-entropy repair in Cassandra and Dynamo does: exchange and compare.",
        compare: Some("compare=fanout:1..4&series=protocol:push,pull,pushpull&runs=20"),
    },
    Chapter {
        title: "Rumor mongering",
        idea: "Nodes lose interest; some never hear; traffic drops.",
        intro: &[
            "Anti-entropy gossips forever. Rumor mongering lets a node lose interest: after telling someone who already knew, it stops with probability 1/k (the feedback coin). Traffic falls, but some nodes may never hear: the residue.",
            "Demers et al. (1987) found residue s and traffic m tied by s = e^-m: halve the residue and you pay a fixed number of extra messages per node. Stopped nodes are blue; at the end the picture is blue and grey, not orange.",
        ],
        hand: false,
        question: Some(Question {
            ask: "Push with the feedback coin, k = 1 (stop at the first redundant contact). What share of the 1,000 nodes never hears the rumor?",
            setup: "nodes=1000&protocol=push&fanout=1&stop=feedback-coin&k=1&seed=7",
            answer: Answer::Percent,
            measure: Measure::Residue,
        }),
        watch: "Orange nodes still spread; blue ones lost interest. The run ends when no one spreads: grey nodes are the residue.",
        gap: Gap {
            low: "More nodes are missed than you thought: with k = 1, nodes give up early. Demers measured about 18 % residue for this rule.",
            close: "Right: the residue is large at k = 1. Raise k and it falls exponentially with the traffic.",
            high: "Fewer than you thought: even a lazy stop rule informs most nodes.",
        },
        knob: Some(Knob {
            param: "k",
            label: "k",
            values: &["1", "2", "3", "4", "5"],
            text: "Each step of k cuts the residue severalfold for about one more message per node: s = e^-m.",
            run: None,
        }),
        puzzle: Some(Puzzle {
            ask: "Find the smallest k that leaves at most 1 % of the nodes uninformed (seed 7).",
            param: "k",
            values: &["1", "2", "3", "4", "5", "6"],
            measure: Measure::Residue,
            at_most: true,
            bound: 1.0,
        }),
        takeaway: "Rumor mongering trades a small residue for far less traffic; real systems back it with anti-entropy to catch the rest.",
        compare: None,
    },
    Chapter {
        title: "Topology",
        idea: "Who may talk to whom decides how fast news travels.",
        intro: &[
            "So far any node could call any other. Real networks have structure: a ring, a grid (torus), random regular graphs, small worlds (a ring with shortcuts) and scale-free networks with hubs. Gossip along edges only is as fast as the graph is wide.",
        ],
        hand: false,
        question: Some(Question {
            ask: "A ring of 1,000 nodes: each node can only tell its two neighbours. How many rounds until all know?",
            setup: "nodes=1000&protocol=push&fanout=1&topology=ring&seed=7",
            answer: Answer::Number { unit: "rounds", max: 100000.0 },
            measure: Measure::RoundsToAll,
        }),
        watch: "The news creeps around the ring from both sides of the source: the ring's diameter is 500.",
        gap: Gap {
            low: "Slower still: each round a front node picks a neighbour at random, and half the time it picks the one that already knows.",
            close: "Right: a ring is a worst case, linear in N rather than logarithmic.",
            high: "Slow, but not that slow: two fronts advance, each about half a node a round.",
        },
        knob: Some(Knob {
            param: "topology",
            label: "Topology",
            values: &["ring", "torus", "small-world", "regular", "scale-free", "complete"],
            text: "A few random shortcuts (small world) bring the rounds back near log N.",
            run: None,
        }),
        puzzle: Some(Puzzle {
            ask: "On the ring, find the smallest fanout that informs everyone within 600 rounds (fanout 2 tells both neighbours).",
            param: "fanout",
            values: &["1", "2"],
            measure: Measure::RoundsToAll,
            at_most: true,
            bound: 600.0,
        }),
        takeaway: "Gossip's log N needs random peers; structure slows it, and a few long links restore it.",
        compare: None,
    },
    Chapter {
        title: "Small networks",
        idea: "At N = 5, a coordinator's broadcast beats gossip.",
        intro: &[
            "Gossip pays for its robustness in messages and rounds. In a small group a coordinator that tells everyone directly needs one round and N - 1 messages. Gossip cannot know when it is done, so it keeps sending.",
        ],
        hand: false,
        question: Some(Question {
            ask: "Five nodes, push, fanout 1 (anti-entropy). A coordinator would send 4 messages. How many messages does gossip send until all 5 know?",
            setup: "nodes=5&protocol=push&fanout=1&seed=7",
            answer: Answer::Number { unit: "messages", max: 1000.0 },
            measure: Measure::Messages,
        }),
        watch: "With five nodes you can follow every message: count how many tell old news.",
        gap: Gap {
            low: "More than you thought: random picks repeat, and every informed node sends every round.",
            close: "Right: gossip needs about twice the coordinator's messages, and several rounds instead of one.",
            high: "Fewer than you feared, but still more than the coordinator's 4.",
        },
        knob: Some(Knob {
            param: "nodes",
            label: "Nodes",
            values: &["3", "5", "10", "20", "50"],
            text: "The waste per node stays bounded, while the coordinator's load grows with N: gossip wins as the group grows.",
            run: None,
        }),
        puzzle: Some(Puzzle {
            ask: "Find the smallest fanout with which all 5 nodes know within 2 rounds (seed 7).",
            param: "fanout",
            values: &["1", "2", "3", "4"],
            measure: Measure::RoundsToAll,
            at_most: true,
            bound: 2.0,
        }),
        takeaway: "Use gossip when the group is large or membership changes; a coordinator is simpler for a handful of fixed nodes.",
        compare: None,
    },
    Chapter {
        title: "No ordering",
        idea: "Two rumors started together reach nodes in different orders.",
        intro: &[
            "Gossip promises that everyone hears eventually, not in what order. Two nodes start two rumors at the same moment; each spreads along its own random paths, in continuous time, with messages that take a little time each.",
        ],
        hand: false,
        question: Some(Question {
            ask: "Nodes 0 and 1 start two rumors, red and blue, at the same moment among 40 nodes. What share of the nodes will hear red first?",
            setup: "protocol=rumor&nodes=40&seed=7&scenario=at+0s+rumor+0+red%0Aat+0s+rumor+1+blue%0Aend+30s",
            answer: Answer::Percent,
            measure: Measure::FigurePercent("first_heard_first"),
        }),
        watch: "The picture follows red, node 0's rumor; the numbers say how many nodes heard red before blue. Run it 5 times: the share jumps around from seed to seed.",
        gap: Gap {
            low: "More heard red first than you thought. But run it 5 times: the share changes with every seed, because each rumor takes its own random paths.",
            close: "Right: about half, and different nodes in each run. There is no order the whole network agrees on, only that everyone hears both.",
            high: "Fewer heard red first than you thought: neither rumor has priority, each node's order is an accident of the paths.",
        },
        knob: Some(Knob {
            param: "fanout",
            label: "Fanout",
            values: &["1", "2", "3"],
            text: "More fanout, faster spread; still no order.",
            run: None,
        }),
        puzzle: None,
        takeaway: "If order matters (a bank balance), gossip needs help: sequence numbers, version vectors or a log.",
        compare: None,
    },
    Chapter {
        title: "Failure detection with SWIM",
        idea: "Probe one random member a period; suspect, then declare dead.",
        intro: &[
            "SWIM (Das, Gupta, Motivala, 2002) detects failures without anyone pinging everyone: each period a member pings one random member; if no ack, it asks k others to ping it indirectly. No answer: suspect; still none after a timeout: declare it dead, and gossip the news on the back of pings.",
        ],
        hand: false,
        question: Some(Question {
            ask: "In a group of 20, member 1 crashes at 10 s. How many protocol periods (1 s each) until every other member has declared it dead?",
            setup: "protocol=swim&nodes=20&seed=7&scenario=crash-one",
            answer: Answer::Number { unit: "periods", max: 1000.0 },
            measure: Measure::Figure("full_detection_periods"),
        }),
        watch: "Each line is a message of the last period: every member pings one other (blue) and is acked (violet). After member 1 crashes, its pings go unanswered, ping-reqs (orange) ask others to try, and member 1 turns yellow (suspected), then red (dead); a ring round a message's dot is that news travelling. Matrix shows who believes what: column 1 turns from alive to suspect to dead.",
        gap: Gap {
            low: "Longer than you thought: after the first probe fails, the suspicion timeout must run out, and the news must spread.",
            close: "Right: a few periods to be probed, a suspicion timeout, then the gossip of the verdict.",
            high: "Faster than you thought: detection is a few periods, independent of the group's size.",
        },
        knob: Some(Knob {
            param: "lifeguard",
            label: "Lifeguard",
            values: &["0", "1"],
            text: "Now a member that is alive but slow (it answers late, as an overloaded laptop does): without Lifeguard the slow member misses acks and declares healthy members dead, and they declare it dead. Lifeguard (1) makes a member that misses its own acks doubt itself first and slows its suspicions. How many members are wrongly declared dead, without and with it?",
            run: Some(("protocol=swim&nodes=20&seed=7&scenario=slow-node", Measure::Figure("false_positives"), "members declared dead while alive")),
        }),
        puzzle: None,
        takeaway: "SWIM's load per member is constant and detection time does not grow with the group. Lifeguard (HashiCorp, 2018) cuts false positives from slow members.",
        compare: None,
    },
    Chapter {
        title: "Partitions",
        idea: "Split brain: each side declares the other dead; healing needs a rejoin.",
        intro: &[
            "A network partition splits a group in two. To each half, the other half looks exactly like crashed members: SWIM declares them dead. When the network heals, the halves must find each other again.",
        ],
        hand: false,
        question: Some(Question {
            ask: "20 members split into two halves for 30 s. How many members end up having been wrongly declared dead by someone?",
            setup: "protocol=swim&nodes=20&seed=7&scenario=split-brain",
            answer: Answer::Number { unit: "members", max: 20.0 },
            measure: Measure::Figure("false_positives"),
        }),
        watch: "Pings stay inside each half and the lines across the split end at a bar. In the Matrix, the group splits into two blocks: each half sees the other as dead.",
        gap: Gap {
            low: "Every one of them: from each side, the whole other side looks crashed.",
            close: "Right: all 20, each declared dead by the other half.",
            high: "All 20, each declared dead by the other half.",
        },
        knob: Some(Knob {
            param: "pushpull",
            label: "Push-pull",
            values: &["0", "1"],
            text: "The network heals at 40 s. Does the group? The paper's SWIM never probes a member it declared dead, so the halves stay dead to each other for good (0). memberlist adds a full-state push-pull with one member every few periods (here 5), sent to members held dead too: they hear that they were declared dead and refute it (1). How many periods after the heal until every member holds every other alive again?",
            run: Some(("protocol=swim&nodes=20&seed=7&scenario=split-brain", Measure::Figure("heal_periods"), "periods after the heal")),
        }),
        puzzle: None,
        takeaway: "A failure detector cannot tell a crash from a partition. Systems that must not split brain use quorums.",
        compare: None,
    },
    Chapter {
        title: "Aggregation with push-sum",
        idea: "Halve and share: every node's estimate converges to the average.",
        intro: &[
            "Push-sum (Kempe, Dobra, Gehrke, 2003) computes an average with no coordinator: each node keeps a sum and a weight, keeps half of both, and sends half to a random peer. Sum over weight converges to the true average at every node. The mass (total weight) must be conserved: a lost message destroys some.",
        ],
        hand: false,
        question: Some(Question {
            ask: "20 nodes hold different values. How many rounds until every node's estimate is within 0.1 % of the true average?",
            setup: "protocol=push-sum&nodes=20&seed=7",
            answer: Answer::Number { unit: "rounds", max: 1000.0 },
            measure: Measure::Figure("rounds_to_error_1e3"),
        }),
        watch: "Colours converge to one shade: the average emerges everywhere at once.",
        gap: Gap {
            low: "Slower than you thought: the error halves roughly every round, and 0.1 % takes about ten halvings after mixing.",
            close: "Right: the error falls exponentially, a constant factor per round.",
            high: "Faster than you thought: the error falls exponentially.",
        },
        knob: Some(Knob {
            param: "loss",
            label: "Message loss",
            values: &["0", "0.01", "0.05", "0.1"],
            text: "With loss the mass leaks away and estimates drift: push-sum assumes reliable delivery.",
            run: None,
        }),
        puzzle: None,
        takeaway: "Averages, sums and counts without a coordinator, if no mass is lost.",
        compare: None,
    },
    Chapter {
        title: "Conflicts",
        idea: "Concurrent writes to one key: someone's write must lose.",
        intro: &[
            "A replicated map lets any node write. Two nodes on two sides of a partition write the same key at the same moment. When the partition heals, anti-entropy brings the replicas together, but which value wins? Last-writer-wins picks by timestamp and silently drops the other; version vectors detect that the writes were concurrent.",
        ],
        hand: false,
        question: Some(Question {
            ask: "After the partition heals, how many keys will the replicas hold with conflicting concurrent writes?",
            setup: "protocol=kv&nodes=20&seed=7&scenario=concurrent-writes",
            answer: Answer::Number { unit: "keys", max: 20.0 },
            measure: Measure::Figure("conflicting_keys"),
        }),
        watch: "Colours are each node's value for the key: two colours during the split, one after the heal.",
        gap: Gap {
            low: "One: the two writes of the same key were concurrent, and the map flags it.",
            close: "Right: one key written concurrently, detected rather than silently lost.",
            high: "Only the one key both sides wrote.",
        },
        knob: Some(Knob {
            param: "scenario",
            label: "Scenario",
            values: &["concurrent-writes", "skewed-clock"],
            text: "Now the other way last-writer-wins loses data. In skewed-clock, node 3's clock runs 15 s behind. Node 0 writes red at 10 s; node 3, which has already received red, writes blue at 20 s: blue is the later write, and vector clocks know it (its clock has seen red's). But node 3 stamps blue 5 s, so last-writer-wins keeps red everywhere, silently. How many later writes does last-writer-wins drop in each scenario?",
            run: Some(("protocol=kv&nodes=20&seed=7", Measure::Figure("lww_dropped_writes"), "later writes dropped by last-writer-wins")),
        }),
        puzzle: None,
        takeaway: "Convergence is not agreement on intent: a conflict resolution rule decides which write survives.",
        compare: None,
    },
    Chapter {
        title: "For real: the class goes live",
        idea: "Every tab a real node; the class watches a rumor cross the room.",
        intro: &[
            "Everything so far ran in one browser. Now each student's tab becomes a real node of the same core, gossiping over WebRTC with the others. The teacher runs `grapevine serve` and projects the conductor link it prints.",
            "The conductor's tab carries the class script, step by step (Next, or a clicker's PageDown): (1) everyone joins from the QR code; (2) ask for guesses: how many seconds until the whole room knows? (3) start a rumor at a student's tab; (4) split the room in two; (5) start a rumor in one half; (6) heal, and watch it cross; (7) freeze a member, as if it crashed; (8) discuss. Each step's button gives the room its order, and the chart puts the class's guesses beside the measured spread and theory.",
        ],
        hand: false,
        question: None,
        watch: "",
        gap: Gap { low: "", close: "", high: "" },
        knob: None,
        puzzle: None,
        takeaway: "Go live: this tab joins the room 'lobby' on the server this page came from (it needs `grapevine serve`).",
        compare: None,
    },
];

/// How many steps a chapter has: its intro, the hand-played round (chapter 1), the
/// prediction, the run, the comparison, the control to try, the puzzle and the last step.
pub fn steps(chapter: &Chapter) -> Vec<StepKind> {
    let mut steps: Vec<StepKind> = (0..chapter.intro.len()).map(StepKind::Read).collect();
    if chapter.hand {
        steps.push(StepKind::Hand);
    }
    if chapter.question.is_some() {
        steps.extend([StepKind::Predict, StepKind::Run, StepKind::Compare]);
    }
    if chapter.knob.is_some() {
        steps.push(StepKind::Try);
    }
    if chapter.puzzle.is_some() {
        steps.push(StepKind::Puzzle);
    }
    steps.push(StepKind::Sandbox);
    steps
}

/// What a step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// Read the chapter's intro text `i`.
    Read(usize),
    /// Play node 0 by hand.
    Hand,
    /// Guess.
    Predict,
    /// Watch the run that answers the guess.
    Run,
    /// Guess, measurement and theory side by side.
    Compare,
    /// One control to try.
    Try,
    /// The puzzle.
    Puzzle,
    /// The end: the full simulator.
    Sandbox,
}

const _: () = assert!(CHAPTERS.len() == crate::params::LESSON_COUNT as usize);
