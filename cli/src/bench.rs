//! `grapevine bench`: the round engine's ns per message next to a random read-modify-write
//! loop over N bytes, measured alternately in this process. The machine may be shared and
//! noisy, so medians are reported, and the ratio is the figure to compare between machines.

use crate::args::BenchArgs;
use crate::usage::{check_memory, Usage};
use grapevine_core::bench;
use grapevine_core::StopRule;
use std::time::Instant;

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

pub fn run(args: BenchArgs) -> Result<(), Usage> {
    if args.signatures {
        signatures(args.reps);
        return Ok(());
    }
    let settings = args.scenario.settings(&args.rules, 1)?;
    settings.validate().map_err(Usage::settings)?;
    check_memory(&settings, 1)?;
    let origin = Instant::now();
    let mut now_ns = move || origin.elapsed().as_nanos() as f64;

    let interest = settings.tunables.interest;
    let stop = match interest.rule {
        StopRule::Never => "anti-entropy".to_string(),
        rule => format!(
            "stop {} k {} ({})",
            rule.name(),
            interest.k,
            interest.feedback.name()
        ),
    };
    println!(
        "round engine: {} nodes, {}, {}, fanout {}, loss {}, crashed {}, {stop}; whole runs",
        settings.nodes,
        settings.topology.name(),
        settings.protocol.name(),
        settings.tunables.fanout,
        settings.tunables.loss,
        settings.crashed,
    );
    println!(
        "baseline: random read-modify-write of one byte of {} with the same generator",
        settings.nodes
    );
    let (mut engine_ns, mut base_ns) = (Vec::new(), Vec::new());
    let mut messages = 0;
    for rep in 1..=args.reps {
        let (m, ns) =
            bench::engine(settings, args.messages, &mut now_ns).map_err(Usage::settings)?;
        if m == 0 {
            return Err(Usage(
                "error: invalid --loss: no message was ever sent".into(),
            ));
        }
        messages = m;
        let engine = ns / m as f64;
        let baseline = bench::baseline(settings.nodes, m, &mut now_ns) / m as f64;
        println!(
            "rep {rep}: {m} messages, engine {engine:.2} ns/msg, baseline {baseline:.2} ns/op"
        );
        engine_ns.push(engine);
        base_ns.push(baseline);
    }
    let (e, b) = (median(&mut engine_ns), median(&mut base_ns));
    println!(
        "median of {}: engine {e:.2} ns/msg, baseline {b:.2} ns/op ({messages} messages)",
        args.reps
    );
    println!("ratio {:.2}", e / b);
    Ok(())
}

/// Live mode's identities: what signing and verifying cost next to a signed message's own
/// encoding and decoding, medians of `reps` alternating measurements.
fn signatures(reps: u32) {
    let origin = Instant::now();
    let mut now_ns = move || origin.elapsed().as_nanos() as f64;
    println!("member identities: Ed25519 (ed25519-dalek), 2,000 statements per measurement");
    println!("baseline: encode + decode one SWIM ping carrying one signed update");
    let (mut sign, mut verify, mut message) = (Vec::new(), Vec::new(), Vec::new());
    for rep in 1..=reps {
        let cost = bench::signatures(2_000, &mut now_ns);
        println!(
            "rep {rep}: sign {:.1} µs, verify {:.1} µs, message {:.2} µs",
            cost.sign_ns / 1e3,
            cost.verify_ns / 1e3,
            cost.message_ns / 1e3
        );
        sign.push(cost.sign_ns);
        verify.push(cost.verify_ns);
        message.push(cost.message_ns);
    }
    let (s, v, m) = (median(&mut sign), median(&mut verify), median(&mut message));
    println!(
        "median of {reps}: sign {:.1} µs ({:.0}/s), verify {:.1} µs ({:.0}/s), message {:.2} µs",
        s / 1e3,
        1e9 / s,
        v / 1e3,
        1e9 / v,
        m / 1e3
    );
    println!(
        "ratio verify/message {:.1}, sign/message {:.1}",
        v / m,
        s / m
    );
}
