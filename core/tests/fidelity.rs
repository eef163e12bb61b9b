//! Fidelity to published results: each test is a row of docs/FIDELITY.md (same names).
//!
//! Tolerances: a published figure is matched within half a unit of its last printed digit plus
//! four standard errors of our mean (the papers do not say how many runs they averaged, so
//! their own sampling error cannot be added). Recurrences are checked round by round with
//! the binomial standard deviation of the next count. Seeds are fixed: a failure is
//! reproducible with `grapevine sim` and the seed in the message.

use grapevine_core::experiment::{play_run, BatchSummary, RunFigures};
use grapevine_core::theory::{feedback_coin_residue, push_rounds_asymptotic};
use grapevine_core::{Feedback, Interest, Protocol, Settings, StopRule, Tunables};

const SEED: u64 = 1987;

fn settings(nodes: u32, protocol: Protocol, rule: StopRule, k: u8) -> Settings {
    Settings {
        nodes,
        protocol,
        tunables: Tunables {
            fanout: 1,
            loss: 0.0,
            interest: Interest::new(rule, k),
        },
        seed: SEED,
        ..Settings::default()
    }
}

fn batch(settings: Settings, runs: u32) -> Vec<RunFigures> {
    (0..runs)
        .map(|i| play_run(settings, i, 100_000).unwrap().figures)
        .collect()
}

/// Standard error of the mean of `f` over `runs`.
fn standard_error(runs: &[RunFigures], f: impl Fn(&RunFigures) -> f64) -> f64 {
    let n = runs.len() as f64;
    let mean = runs.iter().map(&f).sum::<f64>() / n;
    let var = runs.iter().map(|r| (f(r) - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (var / n).sqrt()
}

/// `measured` matches `published` (printed with a last digit worth `unit`).
fn assert_matches(what: &str, measured: f64, se: f64, published: f64, unit: f64) {
    let tolerance = unit / 2.0 + 4.0 * se;
    assert!(
        (measured - published).abs() <= tolerance,
        "{what}: measured {measured:.4} (se {se:.4}), published {published}, tolerance {tolerance:.4}"
    );
}

#[test]
fn push_informs_everyone_in_log2_n_plus_ln_n_plus_a_constant() {
    // Frieze & Grimmett 1985, Pittel 1987: T_n = log2 n + ln n + O(1). The O(1) must not
    // drift with n.
    let mut offsets = Vec::new();
    for (nodes, runs) in [(1_000, 200), (10_000, 100), (100_000, 40)] {
        let runs = batch(settings(nodes, Protocol::Push, StopRule::Never, 1), runs);
        let s = BatchSummary::of(&runs).unwrap();
        let full = s.rounds_to_full.unwrap();
        assert_eq!(s.completed, s.runs);
        let offset = full.mean - push_rounds_asymptotic(nodes);
        let se = full.sd / f64::from(s.runs).sqrt();
        assert!((0.0..2.0).contains(&offset), "n = {nodes}: offset {offset}");
        offsets.push((offset, se));
    }
    for w in offsets.windows(2) {
        let ((a, sa), (b, sb)) = (w[0], w[1]);
        assert!(
            (a - b).abs() <= 4.0 * (sa * sa + sb * sb).sqrt(),
            "the additive term drifts with n: {offsets:?}"
        );
    }
}

#[test]
fn push_pull_informs_everyone_in_log3_n_plus_order_log_log_n() {
    // Karp, Schindelhauer, Shenker, Voecking 2000: log3 n + O(ln ln n). Measured, the excess
    // over log3 n is a fixed multiple of ln ln n: check that the multiple does not drift.
    let mut ratios = Vec::new();
    for (nodes, runs) in [(1_000, 200), (10_000, 100), (100_000, 30)] {
        let runs = batch(
            settings(nodes, Protocol::PushPull, StopRule::Never, 1),
            runs,
        );
        let full = BatchSummary::of(&runs).unwrap().rounds_to_full.unwrap();
        let n = f64::from(nodes);
        let lnln = n.ln().ln();
        let ratio = (full.mean - n.ln() / 3f64.ln()) / lnln;
        let se = full.sd / (runs.len() as f64).sqrt() / lnln;
        assert!((0.0..3.0).contains(&ratio), "n = {nodes}: ratio {ratio}");
        ratios.push((ratio, se));
    }
    for w in ratios.windows(2) {
        let ((a, sa), (b, sb)) = (w[0], w[1]);
        assert!(
            (a - b).abs() <= 4.0 * (sa * sa + sb * sb).sqrt(),
            "(T - log3 n) / ln ln n drifts with n: {ratios:?}"
        );
    }
}

/// Checks `expected(s, i)` (the expected susceptible count after a round that starts with
/// `s` susceptible and `i` informed, both live) against every round of a few runs, with the
/// binomial sd of the next count. Returns how many rounds were checked.
fn check_recurrence(protocol: Protocol, escape: impl Fn(f64, f64, f64) -> f64) -> usize {
    let nodes = 100_000;
    let mut checked = 0;
    for run in 0..5 {
        let history = play_run(settings(nodes, protocol, StopRule::Never, 1), run, 1_000)
            .unwrap()
            .history;
        for w in history.windows(2) {
            let s = f64::from(w[0].counts.susceptible);
            let i = f64::from(w[0].counts.informed());
            let q = escape(s, i, f64::from(nodes));
            if s < 100.0 || q <= 0.0 {
                continue; // Too few left for the normal approximation.
            }
            let (expected, sd) = (s * q, (s * q * (1.0 - q)).sqrt());
            let next = f64::from(w[1].counts.susceptible);
            assert!(
                (next - expected).abs() <= 5.0 * sd + 1.0,
                "{} round {}: {next} susceptible, expected {expected:.1} (sd {sd:.1})",
                protocol.name(),
                w[1].round
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn pull_anti_entropy_squares_the_susceptible_fraction() {
    // Demers et al. 1987, 1.3: p_{i+1} = p_i^2. Exactly: a susceptible node stays so if the
    // one peer it asks (among n - 1) is susceptible too: q = (s - 1) / (n - 1).
    let checked = check_recurrence(Protocol::Pull, |s, _, n| (s - 1.0) / (n - 1.0));
    assert!(checked >= 10, "{checked}");
}

#[test]
fn push_anti_entropy_shrinks_the_susceptible_fraction_by_e_late() {
    // Demers et al. 1987, 1.3: p_{i+1} = p_i (1 - 1/n)^{n(1 - p_i)}, about p_i / e late.
    // Exactly: each of the i informed nodes pushes to one of n - 1 peers.
    let checked = check_recurrence(Protocol::Push, |_, i, n| (1.0 - 1.0 / (n - 1.0)).powf(i));
    assert!(checked >= 10, "{checked}");
}

#[test]
fn push_rumor_mongering_residue_is_e_to_the_minus_traffic() {
    // Demers et al. 1987, 1.4: for push, s = e^{-m} whatever the stop rule.
    for rule in [
        StopRule::FeedbackCounter,
        StopRule::FeedbackCoin,
        StopRule::BlindCounter,
        StopRule::BlindCoin,
    ] {
        for k in [2, 3] {
            let runs = batch(settings(10_000, Protocol::Push, rule, k), 60);
            let gap = |r: &RunFigures| r.residue - (-r.messages_per_node).exp();
            let mean = runs.iter().map(gap).sum::<f64>() / runs.len() as f64;
            let se = standard_error(&runs, gap);
            assert!(
                mean.abs() <= 4.0 * se,
                "{} k={k}: s - e^-m = {mean} (se {se})",
                rule.name()
            );
        }
    }
}

#[test]
fn feedback_coin_residue_solves_s_equals_e_to_the_minus_k_plus_1_times_1_minus_s() {
    // Demers et al. 1987, 1.4, from the mean-field equations, in which contacts happen one at
    // a time: so feedback judged on arrival.
    for k in 1..=4 {
        let mut s = settings(10_000, Protocol::Push, StopRule::FeedbackCoin, k);
        s.tunables.interest.feedback = Feedback::Arrival;
        let runs = batch(s, 100);
        let summary = BatchSummary::of(&runs).unwrap();
        let se = standard_error(&runs, |r| r.residue);
        let equation = feedback_coin_residue(u32::from(k));
        assert_matches(&format!("k={k}"), summary.residue.mean, se, equation, 0.0);
    }
}

/// Demers et al. 1987 (CSL-89-1 printing), 1000 sites: (k, residue s, traffic m, t_last),
/// each with the unit of its last printed digit.
type Row = (u8, (f64, f64), (f64, f64), (f64, f64));

fn check_table(rule: StopRule, rows: &[Row]) {
    for &(k, (s, s_unit), (m, m_unit), (t_last, t_unit)) in rows {
        let runs = batch(settings(1_000, Protocol::Push, rule, k), 400);
        let summary = BatchSummary::of(&runs).unwrap();
        let name = |what: &str| format!("{} k={k} {what}", rule.name());
        let se = |f: fn(&RunFigures) -> f64| standard_error(&runs, f);
        assert_matches(
            &name("residue"),
            summary.residue.mean,
            se(|r| r.residue),
            s,
            s_unit,
        );
        assert_matches(
            &name("traffic"),
            summary.messages_per_node.mean,
            se(|r| r.messages_per_node),
            m,
            m_unit,
        );
        assert_matches(
            &name("t_last"),
            summary.t_last.mean,
            se(|r| f64::from(r.t_last)),
            t_last,
            t_unit,
        );
    }
}

#[test]
fn demers_table_1_push_feedback_counter() {
    check_table(
        StopRule::FeedbackCounter,
        &[
            (1, (0.18, 0.01), (1.7, 0.1), (16.8, 0.1)),
            (2, (0.037, 0.001), (3.3, 0.1), (16.9, 0.1)),
            (3, (0.011, 0.001), (4.5, 0.1), (17.4, 0.1)),
            (4, (0.0036, 0.0001), (5.6, 0.1), (17.5, 0.1)),
            (5, (0.0012, 0.0001), (6.7, 0.1), (17.7, 0.1)),
        ],
    );
}

#[test]
fn demers_table_2_push_blind_coin() {
    check_table(
        StopRule::BlindCoin,
        &[
            (1, (0.96, 0.01), (0.04, 0.01), (38.0, 1.0)),
            (2, (0.20, 0.01), (1.6, 0.1), (33.0, 1.0)),
            (3, (0.060, 0.001), (2.8, 0.1), (32.0, 1.0)),
            (4, (0.021, 0.001), (3.9, 0.1), (32.0, 1.0)),
            (5, (0.008, 0.001), (4.9, 0.1), (32.0, 1.0)),
        ],
    );
}
