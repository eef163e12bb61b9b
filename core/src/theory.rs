//! What theory expects: mean-field recurrences on the complete graph, drawn over the measured
//! curve. They assume anti-entropy (informed nodes never stop); crashed nodes are dead
//! letters that take a share of every random choice.

use crate::rules::Protocol;
use alloc::vec::Vec;

/// The settings the recurrences depend on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Model {
    /// Push, pull or push-pull.
    pub protocol: Protocol,
    /// Peers contacted per node per round.
    pub fanout: u32,
    /// Probability a message is lost.
    pub loss: f64,
    /// All nodes, crashed included.
    pub nodes: u32,
    /// Live nodes.
    pub live: u32,
}

impl Model {
    /// The model of a run's settings, with `live` nodes not crashed.
    pub fn of(settings: &crate::Settings, live: u32) -> Model {
        Model {
            protocol: settings.protocol,
            fanout: settings.tunables.fanout.into(),
            loss: settings.tunables.loss,
            nodes: settings.nodes,
            live,
        }
    }

    /// Expected number of live nodes informed after each round, from round 0 (the source) to
    /// `rounds`, as fractions of the live nodes.
    ///
    /// With `I` informed and `S` susceptible live nodes, `q = 1 - loss` and `m = N - 1` peers
    /// per node, a susceptible node escapes one round with probability
    /// - push: `(1 - f q / m)^I` (each informed node picks it among its `f` targets and the
    ///   push survives);
    /// - pull: `(1 - q² I / m)^f` (each of its `f` requests reaches an informed node and both
    ///   request and reply survive);
    /// - push-pull: the product of both.
    ///
    /// so `S' = S · escape`. For pull with `f = 1`, no loss and no crashes this is Demers et
    /// al.'s `p_{i+1} = p_i²`.
    pub fn informed_fractions(&self, rounds: u32) -> Vec<f64> {
        self.informed_fractions_from(1.0, rounds)
    }

    /// The same recurrence started from `informed` live nodes (so that a curve can continue
    /// from a measured point after a setting changed mid-run).
    pub fn informed_fractions_from(&self, informed: f64, rounds: u32) -> Vec<f64> {
        let live = f64::from(self.live.max(1));
        let peers = f64::from(self.nodes.saturating_sub(1).max(1));
        let fanout = f64::from(self.fanout).min(peers);
        let q = 1.0 - self.loss;
        let mut informed = informed;
        let mut out = Vec::with_capacity(rounds as usize + 1);
        out.push(informed / live);
        for _ in 0..rounds {
            let mut escape = 1.0;
            if self.protocol.pushes() {
                escape *= libm::pow(1.0 - fanout * q / peers, informed);
            }
            if self.protocol.pulls() {
                escape *= libm::pow(1.0 - q * q * informed / peers, fanout);
            }
            let susceptible = (live - informed) * escape;
            informed = live - susceptible;
            out.push(informed / live);
        }
        out
    }

    /// Expected rounds until fewer than half a node is expected to be uninformed, or `None`
    /// if that takes more than `cap` rounds (say, with loss 1).
    pub fn expected_rounds(&self, cap: u32) -> Option<u32> {
        self.expected_rounds_from(1.0, cap)
    }

    /// [`Model::expected_rounds`] from `informed` live nodes.
    pub fn expected_rounds_from(&self, informed: f64, cap: u32) -> Option<u32> {
        let live = f64::from(self.live.max(1));
        self.informed_fractions_from(informed, cap)
            .iter()
            .position(|&x| (1.0 - x) * live < 0.5)
            .map(|r| r as u32)
    }
}

/// Rounds for push with fanout 1 to inform all `n` nodes: `log2 n + ln n` (Frieze & Grimmett
/// 1985; Pittel 1987), up to an additive constant.
pub fn push_rounds_asymptotic(n: u32) -> f64 {
    let n = f64::from(n);
    libm::log2(n) + libm::log(n)
}

/// The fraction of nodes rumor mongering misses with the feedback-coin rule and push (Demers
/// et al. 1987): the root of `s = e^{-(k+1)(1-s)}` below 1.
pub fn feedback_coin_residue(k: u32) -> f64 {
    let a = f64::from(k) + 1.0;
    let mut s = 0.0f64;
    // The map is a contraction near the small root: 200 steps reach double precision.
    for _ in 0..200 {
        s = libm::exp(-a * (1.0 - s));
    }
    s
}

/// The expected time, in protocol periods, from a crash until some member first suspects the
/// crashed member, in SWIM with `nodes` members (the crashed one included) that probe in
/// shuffled round-robin order (section 4.3 of Das et al. 2002), each member's periods at its
/// own random phase, the crash `crash_at` periods after they all started (`None` below 2 or
/// above a million members).
///
/// Each of the `M = nodes - 1` live members probes the crashed one once in every pass through
/// its list of `M` members, a new shuffle each pass; a probe that gets no ack, direct or
/// indirect, makes its member suspect the target when its period ends, one period after the
/// probe. At the crash, a member with phase `u` has started `c` probes (`c` from `crash_at` and
/// `u`), so its next probe starts `t0` later, `t0` uniform in a period, and reaches the
/// crashed member after `D` more periods: `D = pos - j` if its position `pos` in the current
/// pass is at or after `j = c mod M`, else the rest of the pass and its position in the next
/// (positions uniform). The first suspicion comes one period after the earliest of the `M`
/// members' probes, whose survival function is the product of theirs; integrated exactly
/// here, piece by piece (each member's is linear within a period).
///
/// The paper's `e / (e - 1)` ≈ 1.58 periods counts whole synchronous periods, in each of which
/// every member probes at its start and a probed crash is found by its end; with the phases
/// spread, as real processes have them, the wait for the first probe is about one period (the
/// probes of the crashed member arrive at a rate of one a period) and the suspicion comes a
/// period after it: about 2 periods for large groups, 1.9 for 10 members
/// (docs/FIDELITY.md).
pub fn swim_first_detection_periods(nodes: u32, crash_at: f64) -> Option<f64> {
    // Memory and time grow with the group (two tables of 2n values): a million members at
    // most, far beyond the lab's.
    if !((2..=1_000_000).contains(&nodes) && crash_at >= 0.0 && crash_at.is_finite()) {
        return None;
    }
    let m = (nodes - 1) as usize;
    let whole = libm::floor(crash_at);
    let f = crash_at - whole;
    // Probes started before the crash: `whole` by members whose next period starts within
    // `1 - f` of it (t0 < 1 - f), one more by the others.
    let started = [whole as u64, whole as u64 + 1];
    // P(D >= k) for each of the two cases of `j`, k = 0 ..= 2m.
    let at_least = started.map(|c| {
        let j = (c % m as u64) as usize;
        let mut p = alloc::vec![0.0f64; 2 * m + 1];
        let m_f = m as f64;
        // Its position at or after j: D = pos - j; before: the rest of the pass, then its
        // position in the next.
        for x in &mut p[..m - j] {
            *x += 1.0 / m_f;
        }
        for x in &mut p[m - j..2 * m - j] {
            *x += j as f64 / (m_f * m_f);
        }
        let mut tail = alloc::vec![0.0f64; 2 * m + 2];
        for d in (0..=2 * m).rev() {
            tail[d] = tail[d + 1] + p[d];
        }
        tail
    });
    let g = |case: usize, k: usize| at_least[case].get(k).copied().unwrap_or(0.0);
    // P(R > k + s) = ∫₀ˢ P(D ≥ k+1) dt0 + ∫ₛ¹ P(D ≥ k) dt0, with D's case by t0 (< 1 - f or
    // not): linear in s between the breakpoints 0, 1 - f, 1.
    let survival = |k: usize, s: f64| {
        let split = 1.0 - f;
        let part = |from: f64, to: f64, case: usize, kk: usize| (to - from).max(0.0) * g(case, kk);
        part(0.0, s.min(split), 0, k + 1)
            + part(split, s.max(split), 1, k + 1)
            + part(s, split.max(s), 0, k)
            + part(s.max(split), 1.0, 1, k)
    };
    let power = m as i32 + 1;
    let mut expected = 0.0;
    for k in 0..=2 * m {
        for (s0, s1) in [(0.0, 1.0 - f), (1.0 - f, 1.0)] {
            if s1 <= s0 {
                continue;
            }
            let (a, b) = (survival(k, s0), survival(k, s1));
            // ∫ of (linear from a to b)^M over [s0, s1].
            expected += if (b - a).abs() < 1e-15 {
                libm::pow(a, f64::from(power - 1)) * (s1 - s0)
            } else {
                (libm::pow(a, f64::from(power)) - libm::pow(b, f64::from(power))) * (s1 - s0)
                    / ((a - b) * f64::from(power))
            };
        }
    }
    Some(1.0 + expected)
}

/// What theory expects of a sweep's figure (by its name in
/// [`ENGINE_FIGURES`](crate::sweep::ENGINE_FIGURES)) for a run of `settings`, where the core
/// has a model: the mean-field rounds until every live node knows (complete graph,
/// anti-entropy: [`Model::expected_rounds`]) and Demers' residue of the feedback coin (push,
/// fanout 1, complete graph: [`feedback_coin_residue`]). `grapevine sweep --plot` and the
/// page's compare chart draw it dashed over the measured means.
pub fn expected(figure: &str, settings: &crate::Settings) -> Option<f64> {
    use crate::rules::StopRule;
    use crate::Topology;
    let rule = settings.tunables.interest.rule;
    let complete = settings.topology == Topology::Complete;
    match figure {
        "rounds_to_full" if complete && rule == StopRule::Never => {
            Model::of(settings, settings.nodes - settings.crashed_nodes())
                .expected_rounds(100_000)
                .map(f64::from)
        }
        "residue"
            if complete
                && rule == StopRule::FeedbackCoin
                && settings.protocol == Protocol::Push
                && settings.tunables.fanout == 1 =>
        {
            Some(feedback_coin_residue(settings.tunables.interest.k.into()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(protocol: Protocol) -> Model {
        Model {
            protocol,
            fanout: 1,
            loss: 0.0,
            nodes: 1 << 20,
            live: 1 << 20,
        }
    }

    #[test]
    fn swims_first_detection_is_about_two_periods_and_the_crash_time_matters_little() {
        // Hand-checked values of the same model (a direct sum over D's distribution).
        for (n, expected) in [(10, 1.9), (30, 1.9667), (100, 1.99)] {
            let e = swim_first_detection_periods(n, 10.0).unwrap();
            assert!((e - expected).abs() < 1e-4, "{n}: {e}");
        }
        // Between whole periods it moves between the neighbours' values.
        let (a, b) = (
            swim_first_detection_periods(10, 10.0).unwrap(),
            swim_first_detection_periods(10, 11.0).unwrap(),
        );
        let mid = swim_first_detection_periods(10, 10.5).unwrap();
        assert!(
            mid > a.min(b) - 1e-9 && mid < a.max(b) + 1e-9,
            "{a} {mid} {b}"
        );
        // Two members: the survivor probes the crashed one every period, so one period at
        // most, a half on average, before the probe; then the period it waits.
        assert!((swim_first_detection_periods(2, 10.0).unwrap() - 1.5).abs() < 1e-12);
        assert_eq!(swim_first_detection_periods(1, 10.0), None);
    }

    #[test]
    fn pull_follows_demers_square_law() {
        let x = model(Protocol::Pull).informed_fractions(40);
        // Once half are informed, the uninformed fraction squares every round.
        let r = x.iter().position(|&v| v > 0.5).unwrap();
        let (p0, p1) = (1.0 - x[r], 1.0 - x[r + 1]);
        assert!((p1 - p0 * p0).abs() < 1e-6, "{p0} -> {p1}");
    }

    #[test]
    fn push_needs_about_log2_plus_ln_rounds() {
        let r = model(Protocol::Push).expected_rounds(200).unwrap();
        let asym = push_rounds_asymptotic(1 << 20);
        assert!((f64::from(r) - asym).abs() < 3.0, "{r} vs {asym}");
    }

    #[test]
    fn push_pull_is_fastest_and_loss_slows_everything() {
        let rounds = |p, loss| Model { loss, ..model(p) }.expected_rounds(500).unwrap();
        assert!(rounds(Protocol::PushPull, 0.0) < rounds(Protocol::Push, 0.0));
        assert!(rounds(Protocol::PushPull, 0.0) < rounds(Protocol::Pull, 0.0));
        assert!(rounds(Protocol::Push, 0.5) > rounds(Protocol::Push, 0.0));
        assert_eq!(
            Model {
                loss: 1.0,
                ..model(Protocol::Push)
            }
            .expected_rounds(100),
            None
        );
    }

    #[test]
    fn feedback_coin_residue_matches_demers_table() {
        // Demers et al. 1987, table 1 (feedback, coin, push): k = 1 -> s = 0.20, k = 2 -> 0.060.
        assert!((feedback_coin_residue(1) - 0.203).abs() < 0.001);
        assert!((feedback_coin_residue(2) - 0.0595).abs() < 0.001);
    }
}
