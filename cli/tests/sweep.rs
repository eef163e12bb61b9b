//! `grapevine sweep` and `grapevine merge` as a user runs them: a point of a sweep is the
//! `grapevine sim` of its settings on the same seeds; shards, however split and in whatever
//! order, merge into exactly the whole sweep (through GNU parallel too); bad input is one line.

mod common;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn grapevine(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_grapevine"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Standard output of a run that must succeed.
fn stdout(args: &[&str]) -> Vec<u8> {
    let out = grapevine(args);
    assert!(
        out.status.success(),
        "grapevine {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A small grid: 3 fanouts × 3 protocols, 12 runs a point.
const SWEEP: [&str; 12] = [
    "sweep",
    "--vary",
    "fanout=1..3",
    "--vary",
    "protocol=push,pull,pushpull",
    "--nodes",
    "600",
    "--runs",
    "12",
    "--seed",
    "5",
    "--loss=0.1",
];

#[test]
fn a_point_of_a_sweep_is_the_sim_of_its_settings_on_the_same_seeds() {
    let sweep: Value =
        serde_json::from_slice(&stdout(&[&SWEEP[..], &["--format", "json"]].concat())).unwrap();
    assert_eq!(sweep["runs"], 12);
    assert_eq!(sweep["settings"]["nodes"], 600);
    assert!(
        sweep["settings"].get("fanout").is_none(),
        "a varied setting is not among the fixed ones: {}",
        sweep["settings"]
    );
    let points = sweep["points"].as_array().unwrap();
    assert_eq!(points.len(), 9, "3 fanouts × 3 protocols");
    // The first --vary is outermost.
    let order: Vec<(u64, &str)> = points
        .iter()
        .map(|p| {
            (
                p["point"]["fanout"].as_u64().unwrap(),
                p["point"]["protocol"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order[..4],
        [(1, "push"), (1, "pull"), (1, "pushpull"), (2, "push")]
    );
    for p in points {
        let (fanout, protocol) = (
            p["point"]["fanout"].to_string(),
            p["point"]["protocol"].as_str().unwrap(),
        );
        let sim: Value = serde_json::from_slice(&stdout(&[
            "sim",
            "--format",
            "json",
            "--nodes",
            "600",
            "--runs",
            "12",
            "--seed",
            "5",
            "--loss=0.1",
            "--fanout",
            &fanout,
            "--protocol",
            protocol,
        ]))
        .unwrap();
        for figure in [
            "rounds_to_full",
            "residue",
            "messages_per_node",
            "t_ave",
            "t_last",
        ] {
            for stat in ["mean", "sd", "min", "p50", "p95", "max"] {
                assert_eq!(
                    p[figure][stat], sim[figure][stat],
                    "fanout {fanout} {protocol}: {figure}.{stat} differs from grapevine sim's"
                );
            }
            let (lo, hi, mean) = (
                p[figure]["ci95"][0].as_f64().unwrap(),
                p[figure]["ci95"][1].as_f64().unwrap(),
                p[figure]["mean"].as_f64().unwrap(),
            );
            assert!(
                lo <= mean && mean <= hi,
                "{figure}: ci95 [{lo}, {hi}] around {mean}"
            );
            if p[figure]["sd"].as_f64().unwrap() > 0.0 {
                assert!(lo < hi, "{figure}: a spread gives an interval");
            }
        }
    }
    // Common random numbers: a larger fanout never takes more rounds on the same seeds in
    // this grid's means (a sanity check on the ordering, not a theorem run by run).
    let rounds = |i: usize| points[i]["rounds_to_full"]["mean"].as_f64().unwrap();
    assert!(
        rounds(0) > rounds(3) && rounds(3) > rounds(6),
        "push: fanout 1 > 2 > 3"
    );
}

#[test]
fn shards_in_any_order_merge_into_exactly_the_whole_sweep() {
    let dir = tempdir("merge");
    for format in ["json", "csv", "table"] {
        for extra in [&[][..], &["--per-run"][..]] {
            if format == "table" && !extra.is_empty() {
                // A table leaves runs out: refused, by the sweep and by the merge.
                let args = [&SWEEP[..], &["--format", format], extra].concat();
                assert_eq!(grapevine(&args).status.code(), Some(2), "{args:?}");
                continue;
            }
            let whole = stdout(&[&SWEEP[..], &["--format", format], extra].concat());
            let mut files = Vec::new();
            for i in 0..4 {
                let file = dir.join(format!("{format}-{}-{i}.jsonl", extra.len()));
                let shard = format!("{i}/4");
                let threads = if i % 2 == 0 { "1" } else { "2" };
                stdout(
                    &[
                        &SWEEP[..],
                        &["--shard", &shard, "--out", file.to_str().unwrap()],
                        &["--threads", threads],
                        extra,
                    ]
                    .concat(),
                );
                files.push(file.to_str().unwrap().to_string());
            }
            files.reverse();
            let mut args = vec!["merge", "--format", format];
            args.extend(files.iter().map(String::as_str));
            let merged = stdout(&args);
            assert!(
                whole == merged,
                "--format {format} {extra:?}: the merge differs from the whole sweep:\n{}\n---\n{}",
                String::from_utf8_lossy(&whole),
                String::from_utf8_lossy(&merged)
            );
            if !extra.is_empty() {
                let mut table = vec!["merge", "--format", "table"];
                table.extend(files.iter().map(String::as_str));
                let out = grapevine(&table);
                assert_eq!(out.status.code(), Some(2), "per-run shards as a table");
                assert!(String::from_utf8_lossy(&out.stderr).contains("--per-run gives every run"));
            }
        }
    }
}

#[test]
fn a_missing_duplicated_or_foreign_shard_is_named() {
    let dir = tempdir("bad-shards");
    let shard = |i: u32, n: u32, seed: &str| {
        let file = dir.join(format!("s{i}-{n}-{seed}.jsonl"));
        let which = format!("{i}/{n}");
        let mut args = SWEEP.to_vec();
        args[10] = seed;
        stdout(
            &[
                &args[..],
                &["--shard", &which, "--out", file.to_str().unwrap()],
            ]
            .concat(),
        );
        file.to_str().unwrap().to_string()
    };
    let (a, b, c) = (shard(0, 3, "5"), shard(1, 3, "5"), shard(2, 3, "5"));
    let refused = |files: &[&str], says: &str| {
        let out = grapevine(&[&["merge"], files].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{files:?}: {err}");
        assert!(
            err.contains(says),
            "{files:?}: expected {says:?} in {err:?}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    };
    refused(&[&a, &c], "shard 1/3 missing (given: 0, 2)");
    refused(&[&a, &b, &b, &c], "shard 1/3 given twice");
    refused(&[&a, &b, &shard(2, 3, "6")], "is a shard of another sweep");
    // A line altered by hand: its run's seed no longer matches.
    let text = std::fs::read_to_string(&b).unwrap();
    let tampered = dir.join("tampered.jsonl");
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut row: Value = serde_json::from_str(&lines[1]).unwrap();
    row["seed"] = Value::from(row["seed"].as_u64().unwrap() ^ 1);
    lines[1] = row.to_string();
    std::fs::write(&tampered, lines.join("\n")).unwrap();
    refused(
        &[&a, tampered.to_str().unwrap(), &c],
        "tampered.jsonl:2: its seed is not its run's",
    );
    refused(&[dir.join("none.jsonl").to_str().unwrap()], "none.jsonl");
    std::fs::write(dir.join("junk.jsonl"), "hello\n").unwrap();
    refused(
        &[dir.join("junk.jsonl").to_str().unwrap()],
        "not a shard of grapevine sweep",
    );
}

/// The recipe of docs/CLI.md for machines without a scheduler: GNU parallel runs the shards
/// (`--sshlogin :` is this machine; a list of hosts spreads them), then one merge.
#[test]
fn a_sweep_sharded_through_gnu_parallel_merges_into_the_whole() {
    let dir = tempdir("parallel");
    let bin = env!("CARGO_BIN_EXE_grapevine");
    let args = SWEEP[1..].join(" ");
    let out = Command::new("parallel")
        .args(["--will-cite", "--sshlogin", ":", "--jobs", "4"])
        .arg(format!(
            "{bin} sweep {args} --shard {{}}/4 --out {}/shard-{{}}.jsonl",
            dir.display()
        ))
        .args([":::", "0", "1", "2", "3"])
        .output()
        .expect("GNU parallel is installed (scripts/install.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shards: Vec<String> = (0..4)
        .map(|i| dir.join(format!("shard-{i}.jsonl")).display().to_string())
        .collect();
    let mut merge = vec!["merge", "--format", "csv"];
    merge.extend(shards.iter().map(String::as_str));
    assert_eq!(
        String::from_utf8(stdout(&merge)).unwrap(),
        String::from_utf8(stdout(&[&SWEEP[..], &["--format", "csv"]].concat())).unwrap()
    );
}

#[test]
fn ranges_give_their_values_and_bad_input_is_one_line() {
    let csv = String::from_utf8(stdout(&[
        "sweep",
        "--vary",
        "nodes=10..1000*10",
        "--vary",
        "k=1..3",
        "--stop",
        "blind-coin",
        "--runs",
        "2",
        "--format",
        "csv",
    ]))
    .unwrap();
    let points: Vec<&str> = csv
        .lines()
        .skip(1)
        .filter(|l| l.contains(",residue,"))
        .map(|l| l.rsplitn(11, ',').last().unwrap())
        .collect();
    assert_eq!(
        points,
        ["10,1", "10,2", "10,3", "100,1", "100,2", "100,3", "1000,1", "1000,2", "1000,3"]
    );
    for (args, says) in [
        (&["sweep"][..], "--vary"),
        (&["sweep", "--vary", "fanout"], "expected NAME=V1,V2"),
        (
            &["sweep", "--vary", "colour=red"],
            "unknown setting \"colour\"",
        ),
        (
            &["sweep", "--vary", "interval=100,200"],
            "error: invalid --interval: it applies to the lab's protocols only (at the point \
             interval=100)",
        ),
        (
            &["sweep", "--vary", "fanout=0,1"],
            "0: expected a whole number from 1 to 16",
        ),
        (&["sweep", "--vary", "fanout=1,1"], "1 is given twice"),
        (&["sweep", "--vary", "fanout=3..1"], "3 is more than 1"),
        (
            &["sweep", "--vary", "nodes=10..100*1"],
            "the factor must be more than 1",
        ),
        (
            &["sweep", "--vary", "fanout=1", "--vary", "fanout=2"],
            "fanout is varied twice",
        ),
        (
            &["sweep", "--vary", "protocol=push,swim", "--nodes", "50"],
            "the point protocol=swim gives other figures than protocol=push",
        ),
        (
            &["sweep", "--vary", "fanout=1", "--shard", "4/4"],
            "--shard",
        ),
        (
            &["sweep", "--vary", "fanout=1", "--shard", "0/2"],
            "give --out FILE",
        ),
        (
            &["sweep", "--vary", "fanout=1", "--shard", "0/2", "--out", "x", "--plot", "y.svg"],
            "plot with grapevine merge --plot",
        ),
        (
            &["sweep", "--vary", "fanout=1", "--per-run"],
            "give --format json or csv",
        ),
        (
            &[
                "sweep",
                "--vary",
                "topology=complete,torus",
                "--nodes",
                "4",
            ],
            "error: invalid --topology: a torus needs at least 9 nodes (at the point topology=torus)",
        ),
        (&["sweep", "--vary", "nodes=1..1000000000*10"], "nodes"),
    ] {
        let out = grapevine(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: expected {says:?} in {err:?}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line: {err}");
    }
}

/// A fresh directory for one test's files.
fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("sweep-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_plot_draws_each_series_with_theory_and_a_merge_draws_the_same() {
    let dir = tempdir("plot");
    let whole = dir.join("whole.svg");
    stdout(&[&SWEEP[..], &["--plot", whole.to_str().unwrap()]].concat());
    let svg = std::fs::read_to_string(&whole).unwrap();
    assert!(
        svg.starts_with("<svg"),
        "an SVG: {}",
        &svg[..svg.len().min(200)]
    );
    for label in [
        "rounds until every live node knew",
        "against fanout, by protocol",
        "protocol push: mean, 95 % band",
        "protocol pull: theory",
        "protocol pushpull: theory",
    ] {
        assert!(svg.contains(label), "{label:?} missing from the plot");
    }
    // The bands: one filled polygon per series.
    assert_eq!(svg.matches("<polygon").count(), 3, "a band per series");
    let mut shards = Vec::new();
    for i in 0..2 {
        let file = dir.join(format!("s{i}.jsonl"));
        let which = format!("{i}/2");
        stdout(
            &[
                &SWEEP[..],
                &["--shard", &which, "--out", file.to_str().unwrap()],
            ]
            .concat(),
        );
        shards.push(file.to_str().unwrap().to_string());
    }
    let merged = dir.join("merged.svg");
    stdout(&[
        "merge",
        &shards[0],
        &shards[1],
        "--plot",
        merged.to_str().unwrap(),
    ]);
    assert!(
        std::fs::read(&merged).unwrap() == svg.as_bytes(),
        "the merge's plot differs from the sweep's"
    );
    // A residue against the feedback coin's k, with Demers' residue as theory.
    let residue = dir.join("residue.svg");
    stdout(&[
        "sweep",
        "--vary",
        "k=1..3",
        "--stop",
        "feedback-coin",
        "--nodes",
        "2000",
        "--runs",
        "5",
        "--figure",
        "residue",
        "--plot",
        residue.to_str().unwrap(),
    ]);
    let svg = std::fs::read_to_string(&residue).unwrap();
    assert!(svg.contains("residue: share of live nodes never informed against k"));
    assert!(
        svg.contains(">\ntheory\n<"),
        "Demers' residue drawn as theory"
    );
    let out = grapevine(&[
        "sweep",
        "--vary",
        "k=1,2",
        "--vary",
        "fanout=1,2",
        "--vary",
        "loss=0,0.1",
        "--plot",
        dir.join("three.svg").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("one or two --vary"));
}

/// A lab protocol's sweep (SWIM's period and Lifeguard here): each point is `grapevine sim
/// --protocol swim` of its settings on the same seeds, and its shards merge into the whole.
#[test]
fn a_lab_protocols_sweep_is_its_sims_and_its_shards_merge_whole() {
    let sweep = [
        "sweep",
        "--protocol",
        "swim",
        "--nodes",
        "30",
        "--runs",
        "4",
        "--seed",
        "3",
        "--vary",
        "interval=250,1000",
        "--vary",
        "lifeguard=off,on",
        "--scenario",
        "crash-one",
    ];
    let whole: Value =
        serde_json::from_slice(&stdout(&[&sweep[..], &["--format", "json"]].concat())).unwrap();
    assert_eq!(whole["settings"]["protocol"], "swim");
    assert!(
        whole["settings"].get("interval_ms").is_none(),
        "varied: {}",
        whole["settings"]
    );
    let points = whole["points"].as_array().unwrap();
    assert_eq!(points.len(), 4);
    for p in points {
        let interval = p["point"]["interval"].to_string();
        let mut sim = vec![
            "sim",
            "--format",
            "json",
            "--protocol",
            "swim",
            "--nodes",
            "30",
            "--runs",
            "4",
            "--seed",
            "3",
            "--scenario",
            "crash-one",
            "--interval",
            &interval,
        ];
        if p["point"]["lifeguard"] == "on" {
            sim.push("--lifeguard");
        }
        let sim: Value = serde_json::from_slice(&stdout(&sim)).unwrap();
        for figure in [
            "first_detection_periods",
            "full_detection_periods",
            "false_positives",
        ] {
            assert!(
                !sim[figure].is_null(),
                "{figure} in grapevine sim's output: {sim}"
            );
            for stat in ["mean", "sd", "min", "p50", "p95", "max"] {
                assert_eq!(
                    p[figure][stat], sim[figure][stat],
                    "{}: {figure}.{stat} differs from grapevine sim's",
                    p["point"]
                );
            }
        }
    }
    let dir = tempdir("lab");
    let mut files = Vec::new();
    for i in 0..3 {
        let file = dir.join(format!("s{i}.jsonl")).display().to_string();
        let which = format!("{i}/3");
        stdout(
            &[
                &sweep[..],
                &["--per-run", "--shard", &which, "--out", &file],
            ]
            .concat(),
        );
        files.push(file);
    }
    let mut merge = vec!["merge", "--format", "csv"];
    merge.extend(files.iter().map(String::as_str));
    assert_eq!(
        String::from_utf8(stdout(&merge)).unwrap(),
        String::from_utf8(stdout(
            &[&sweep[..], &["--per-run", "--format", "csv"]].concat()
        ))
        .unwrap()
    );
}

/// A live room of `members` native members (`grapevine serve` and `grapevine peer`, over the
/// relay on loopback) whose one rumor reaches every member: the record `grapevine peer
/// --json` wrote. Stops the room once the record holds every member's arrival, within a bound
/// of forty times push's expected time on a complete graph plus the start.
fn record_a_room(dir: &Path, members: u32) -> std::path::PathBuf {
    use std::process::Stdio;
    let dist = dir.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>test</title>",
    )
    .unwrap();
    let (mut server, port) = common::serve(&dist);
    let url = format!("http://127.0.0.1:{port}");
    let record = dir.join("room.jsonl");
    let count = members.to_string();
    let mut peers = Command::new(env!("CARGO_BIN_EXE_grapevine"))
        .args([
            "peer", "--url", &url, "--room", "recorded", "--count", &count,
        ])
        .args([
            "--interval",
            "200",
            "--rumors",
            "1",
            "--rumor-every",
            "2",
            "--seed",
            "4",
        ])
        .arg("--json")
        .stdout(std::fs::File::create(&record).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Push on a complete graph of `members`: about log2(n) + ln(n) rounds of 200 ms.
    let n = f64::from(members);
    let expected = std::time::Duration::from_secs_f64((n.log2() + n.ln()) * 0.2);
    let bound = std::time::Duration::from_secs(2) + expected * 40;
    let start = std::time::Instant::now();
    let heard = || {
        std::fs::read_to_string(&record)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(r#""event":"rumor""#))
            .count()
    };
    while heard() < members as usize && start.elapsed() < bound {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = peers.kill();
    let _ = peers.wait();
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(
        heard(),
        members as usize,
        "within {bound:?} (the start, then forty times push's expected {expected:?}): arrivals \
         of the rumor among {members} members"
    );
    record
}

#[test]
fn a_recorded_room_is_reported_and_drawn_beside_the_sweep() {
    let dir = tempdir("room");
    let record = record_a_room(&dir, 8);
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(
        text.starts_with(r#"{"event":"room","fanout":1,"interval_ms":200,"loss":0.0,"members":8}"#),
        "the record starts with the room's settings: {}",
        text.lines().next().unwrap_or_default()
    );
    let room = record.to_str().unwrap();
    let plot = dir.join("room.svg");
    let json: Value = serde_json::from_slice(&stdout(&[
        "sweep",
        "--vary",
        "nodes=4,8,16",
        "--runs",
        "20",
        "--format",
        "json",
        "--room",
        room,
        "--plot",
        plot.to_str().unwrap(),
    ]))
    .unwrap();
    let rooms = json["rooms"].as_array().expect("a rooms array");
    assert_eq!(rooms.len(), 1);
    let r = &rooms[0];
    assert_eq!(
        (r["members"].as_u64(), r["rumors"].as_u64()),
        (Some(8), Some(1))
    );
    assert_eq!(r["point"], serde_json::json!({ "nodes": 8 }));
    assert_eq!(r["rounds_to_full"]["completed"], 1, "{r}");
    // In intervals: more than one (it had to cross the room), and within what the test waited.
    let full = r["rounds_to_full"]["mean"].as_f64().unwrap();
    assert!(
        full > 1.0 && full < 400.0,
        "{full} intervals until all knew"
    );
    assert_eq!(r["residue"]["mean"], 0.0);
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(
        svg.contains("room.jsonl: a recorded room"),
        "the legend names the room"
    );
    // The table gives it too; CSV and a sweep without --room are as before.
    let table = String::from_utf8(stdout(&[
        "sweep", "--vary", "nodes=8", "--runs", "5", "--room", room,
    ]))
    .unwrap();
    assert!(
        table.contains("room room.jsonl (recorded: 8 members"),
        "{table}"
    );
    let plain: Value = serde_json::from_slice(&stdout(&[
        "sweep", "--vary", "nodes=8", "--runs", "5", "--format", "json",
    ]))
    .unwrap();
    assert!(plain.get("rooms").is_none());

    // What a room cannot be placed by, and a file that is not a record, are one line each.
    let refused = |args: &[&str], why: &str| {
        let out = grapevine(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(why),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    };
    refused(
        &[
            "sweep",
            "--vary",
            "k=1,2",
            "--stop",
            "blind-counter",
            "--runs",
            "2",
            "--room",
            room,
        ],
        "a room is placed by its nodes, fanout, loss or protocol, not k",
    );
    refused(
        &[
            "sweep",
            "--vary",
            "nodes=4,8",
            "--runs",
            "2",
            "--room",
            room,
            "--figure",
            "messages_per_node",
            "--plot",
            plot.to_str().unwrap(),
        ],
        "a room measures rounds_to_full, residue, t_ave, t_last, not messages_per_node",
    );
    // A file that is not a record: the line that is wrong, and why.
    let not_a_record = |text: &str, why: &str| {
        let file = dir.join("other.jsonl");
        std::fs::write(&file, text).unwrap();
        let args = ["sweep", "--vary", "nodes=4,8", "--runs", "2", "--room"];
        refused(&[&args[..], &[file.to_str().unwrap()]].concat(), why);
    };
    not_a_record(
        "{\"event\":\"rumor\",\"peer\":\"a\",\"rumor\":\"a:0\",\"hops\":0,\"latency_ms\":0}\n",
        "line 1: a room's record starts with its settings",
    );
    not_a_record("not json\n", "line 1: expected");
}
