//! What several test files share (each uses some of it).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts `grapevine serve --port 0 --dist DIST` and returns it with the port it printed in
/// its first line (it prints its address once it listens).
pub fn serve(dist: &Path) -> (Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_grapevine"))
        .args(["serve", "--port", "0", "--dist"])
        .arg(dist)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    (child, port_in(&first))
}

/// The port in the server's first line (`http://127.0.0.1:PORT/...`).
pub fn port_in(first: &str) -> u16 {
    first
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {first:?}"))
}
