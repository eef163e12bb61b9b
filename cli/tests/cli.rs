//! The `grapevine` binary as a user runs it: flags, output shapes, errors and exit codes.

use std::process::{Command, Output};

fn grapevine(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_grapevine"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = grapevine(&[&["sim", "--format", "json"], args].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn sim_json_has_every_setting_and_every_figure() {
    let v = json(&[
        "--nodes",
        "500",
        "--runs",
        "7",
        "--seed",
        "9",
        "--stop",
        "feedback-coin",
        "--k",
        "3",
    ]);
    let s = &v["settings"];
    for key in [
        "nodes",
        "protocol",
        "stop",
        "k",
        "feedback",
        "fanout",
        "loss",
        "topology",
        "crashed",
        "seed",
        "max_rounds",
    ] {
        assert!(!s[key].is_null(), "settings.{key} missing: {s}");
    }
    assert_eq!(s["seed"], 9);
    assert_eq!(v["runs"], 7);
    for figure in [
        "rounds_to_full",
        "residue",
        "messages_per_node",
        "t_ave",
        "t_last",
    ] {
        for stat in ["mean", "sd", "min", "p50", "p95", "max"] {
            if figure == "rounds_to_full" && v[figure]["completed"] == 0 {
                continue;
            }
            assert!(v[figure][stat].is_f64(), "{figure}.{stat}: {v}");
        }
    }
    assert!(v["rounds_to_full"]["completed"].is_u64());
    let r = &v["residue"];
    assert!(r["min"].as_f64() <= r["p50"].as_f64() && r["p50"].as_f64() <= r["max"].as_f64());
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let args = [
        "--nodes", "3000", "--runs", "12", "--seed", "5", "--loss", "0.2",
    ];
    let one = json(&[&args[..], &["--threads", "1"]].concat());
    let two = json(&[&args[..], &["--threads", "2"]].concat());
    assert_eq!(one, two);
    let other_seed = json(&[
        "--nodes", "3000", "--runs", "12", "--seed", "6", "--loss", "0.2",
    ]);
    assert_ne!(one["messages_per_node"], other_seed["messages_per_node"]);
}

#[test]
fn one_run_is_the_run_of_the_master_seed() {
    // Run 0 plays the master seed itself: what the page plays with that seed.
    let out = grapevine(&[
        "sim",
        "--nodes",
        "300",
        "--runs",
        "1",
        "--seed",
        "11",
        "--per-round",
    ]);
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut engine = grapevine_core::RoundEngine::new(grapevine_core::Settings {
        nodes: 300,
        seed: 11,
        ..Default::default()
    })
    .unwrap();
    while !engine.is_finished() {
        engine.step();
    }
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "run,round,susceptible,infected,removed,sent,lost,redundant"
    );
    assert_eq!(lines.len() - 1, engine.history().len());
    for (line, r) in lines[1..].iter().zip(engine.history()) {
        let expected = format!(
            "0,{},{},{},{},{},{},{}",
            r.round,
            r.counts.susceptible,
            r.counts.spreading,
            r.counts.stopped,
            r.traffic.sent,
            r.traffic.lost,
            r.traffic.redundant
        );
        assert_eq!(*line, expected);
    }
}

#[test]
fn csv_and_table_formats_print_every_figure() {
    let csv = grapevine(&["sim", "--nodes", "200", "--runs", "3", "--format", "csv"]);
    let text = String::from_utf8(csv.stdout).unwrap();
    assert!(
        text.starts_with("figure,runs,mean,sd,min,p50,p95,max\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 6);
    let table = grapevine(&["sim", "--nodes", "200", "--runs", "3", "--seed", "42"]);
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.contains("seed 42"), "the seed is printed: {text}");
    assert!(
        text.contains("rounds_to_full") && text.contains("t_last"),
        "{text}"
    );
}

#[test]
fn bad_input_is_one_line_naming_the_flag_and_exit_code_2() {
    for (args, flag) in [
        (&["sim", "--nodes", "0"][..], "--nodes"),
        (&["sim", "--loss", "1"], "--loss"),
        (&["sim", "--loss", "-0.1"], "--loss"),
        (&["sim", "--fanout", "0"], "--fanout"),
        (&["sim", "--k", "0"], "--k"),
        (
            &["sim", "--topology", "torus", "--nodes", "5"],
            "--topology",
        ),
        (&["sim", "--protocol", "gossip"], "--protocol"),
        (&["sim", "--wat"], "--wat"),
        (&["sim", "--crashed", "1.5"], "--crashed"),
        (&["sim", "--runs", "many"], "--runs"),
        (&["bench", "--nodes", "1"], "--nodes"),
        (&["bench", "--protocol", "swim"], "--protocol"),
        (
            &["sim", "--protocol", "swim", "--scenario", "nope"],
            "--scenario",
        ),
        (&["sim", "--protocol", "swim", "--fanout", "2"], "--fanout"),
        (&["sim", "--protocol", "kv", "--lifeguard"], "--lifeguard"),
        (&["sim", "--protocol", "swim", "--mode", "pull"], "--mode"),
        (
            &["sim", "--protocol", "rumor", "--mode", "gossip"],
            "--mode",
        ),
        (
            &["sim", "--protocol", "rumor", "--topology", "ring"],
            "--topology",
        ),
        (&["sim", "--protocol", "swim", "--nodes", "6000"], "--nodes"),
        (&["sim", "--scenario", "crash-one"], "--scenario"),
        (
            &["sim", "--protocol", "push-sum", "--interval", "5"],
            "--interval",
        ),
    ] {
        let out = grapevine(args);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?} should name {flag}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn a_run_too_big_for_memory_is_refused_before_allocating() {
    // 10^8 nodes on a scale-free graph needs about 6 GB per run; ask for more runs at once
    // than any machine here has memory for.
    let out = grapevine(&[
        "sim",
        "--nodes",
        "100000000",
        "--topology",
        "scale-free",
        "--threads",
        "64",
        "--runs",
        "64",
    ]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("GB") && err.contains("--nodes"), "{err}");
}

#[test]
fn bench_ends_with_the_ratio() {
    let out = grapevine(&[
        "bench",
        "--nodes",
        "10000",
        "--messages",
        "200000",
        "--reps",
        "1",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let last = text.lines().last().unwrap();
    let ratio: f64 = last.strip_prefix("ratio ").expect(last).parse().unwrap();
    assert!(ratio > 0.0 && ratio.is_finite(), "{text}");
}

#[test]
fn lab_protocols_print_their_figures_in_the_summary_shape() {
    for (protocol, figures) in [
        (
            "swim",
            &[
                "first_detection_periods",
                "full_detection_periods",
                "false_positives",
            ][..],
        ),
        (
            "push-sum",
            &[
                "rounds_to_error_1e3",
                "rounds_to_error_1e6",
                "mass_remaining",
            ],
        ),
        ("kv", &["rounds_to_converge", "conflicting_keys"]),
        (
            "rumor",
            &[
                "intervals_to_full",
                "residue",
                "messages_per_node",
                "max_hops",
            ],
        ),
    ] {
        let v = json(&["--protocol", protocol, "--nodes", "30", "--runs", "4"]);
        assert_eq!(v["settings"]["protocol"], protocol);
        assert_eq!(v["settings"]["seed"], 1);
        assert_eq!(v["runs"], 4);
        for f in figures {
            for key in ["mean", "sd", "min", "p50", "p95", "max"] {
                assert!(v[f][key].is_number(), "{protocol} {f}.{key}: {v}");
            }
        }
    }
    // The default SWIM scenario crashes a node, and four runs of 30 members detect it.
    let v = json(&["--protocol", "swim", "--nodes", "30", "--runs", "4"]);
    assert_eq!(v["settings"]["scenario"], "crash-one");
    assert_eq!(v["first_detection_periods"]["completed"], 4);
    assert!(v["first_detection_periods"]["mean"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_scenario_file_is_read_and_its_errors_name_the_step() {
    let dir = std::env::temp_dir().join(format!("grapevine-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.txt");
    std::fs::write(
        &good,
        "# two writes\nat 1s set 0 k a\nat 1s set 1 k b\nend 20s\n",
    )
    .unwrap();
    let v = json(&[
        "--protocol",
        "kv",
        "--nodes",
        "10",
        "--runs",
        "3",
        "--scenario",
        good.to_str().unwrap(),
    ]);
    assert_eq!(v["conflicting_keys"]["mean"], 1.0);
    let bad = dir.join("bad.txt");
    std::fs::write(&bad, "at 1s crash 2\nat 2s explode 3\n").unwrap();
    let out = grapevine(&[
        "sim",
        "--protocol",
        "swim",
        "--scenario",
        bad.to_str().unwrap(),
    ]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("step 2") && err.contains("explode"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

/// The rumor protocol through the lab: a rumor starts at node 0 at time 0 and reaches every
/// node with no loss and no stop rule; with a stop rule some never hear it; its settings are
/// printed with the figures.
#[test]
fn the_rumor_protocol_runs_in_the_lab() {
    let v = json(&["--protocol", "rumor", "--nodes", "100", "--runs", "6"]);
    assert_eq!(v["intervals_to_full"]["completed"], 6, "{v}");
    let mean = v["intervals_to_full"]["mean"].as_f64().unwrap();
    // Push to one peer a second: about log2 n + ln n rounds, faster in continuous time.
    assert!((5.0..14.0).contains(&mean), "{v}");
    assert_eq!(v["residue"]["max"], 0.0);
    assert_eq!(v["settings"]["mode"], "push");
    let v = json(&[
        "--protocol",
        "rumor",
        "--nodes",
        "200",
        "--runs",
        "6",
        "--mode",
        "pushpull",
        "--fanout",
        "2",
        "--stop",
        "feedback-counter",
        "--k",
        "1",
    ]);
    assert!(v["residue"]["mean"].as_f64().unwrap() > 0.0, "{v}");
    assert_eq!(v["settings"]["stop"], "feedback-counter");
    assert_eq!(v["settings"]["fanout"], 2);
}
