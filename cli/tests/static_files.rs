//! How `grapevine serve` serves the built page: the precompressed variant a browser's
//! `Accept-Encoding` takes, `Cache-Control` by whether the name is content-hashed, and ETag
//! revalidation. The real binary on port 0 over raw HTTP/1.1.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Child;

/// `grapevine serve` on a dist folder of its own.
struct Server {
    child: Child,
    port: u16,
    dist: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dist);
    }
}

/// A response: status, headers (names in lowercase), body.
struct Reply {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

const HASHED_WASM: &str = "grapevine-web-24be41ed07dc66ba_bg.wasm";
const PART: &str = "grapevine-lab.js";

impl Server {
    /// Serves a dist folder holding a page, a content-hashed wasm and an unhashed part, each
    /// with brotli and gzip variants whose bytes say which they are.
    fn start() -> Server {
        // One directory per server: the tests run in parallel in one process, and each
        // removes its own when done (a shared one was removed under the other: a 404).
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dist =
            std::env::temp_dir().join(format!("grapevine-static-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dist).unwrap();
        for name in ["index.html", HASHED_WASM, PART] {
            std::fs::write(dist.join(name), format!("identity {name}")).unwrap();
            std::fs::write(dist.join(format!("{name}.br")), format!("br {name}")).unwrap();
            std::fs::write(dist.join(format!("{name}.gz")), format!("gzip {name}")).unwrap();
        }
        let (child, port) = common::serve(&dist);
        Server { child, port, dist }
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a header block");
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = head.lines();
        let status = lines.next().unwrap()[9..12].parse().unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Reply {
            status,
            headers,
            body: raw[split + 4..].to_vec(),
        }
    }
}

#[test]
fn each_browser_gets_the_variant_its_accept_encoding_takes() {
    let server = Server::start();
    for (accept, encoding, body) in [
        (Some("gzip, deflate, br"), Some("br"), "br"),
        (Some("gzip"), Some("gzip"), "gzip"),
        (None, None, "identity"),
    ] {
        let headers: Vec<(&str, &str)> =
            accept.map(|a| ("Accept-Encoding", a)).into_iter().collect();
        for file in [HASHED_WASM, PART] {
            let reply = server.get(&format!("/{file}"), &headers);
            assert_eq!(reply.status, 200, "{file} with {accept:?}");
            assert_eq!(
                reply.header("content-encoding"),
                encoding,
                "{file} with {accept:?}"
            );
            assert_eq!(
                String::from_utf8_lossy(&reply.body),
                format!("{body} {file}"),
                "{file} with {accept:?}: the precompressed file itself"
            );
            assert_eq!(reply.header("vary"), Some("accept-encoding"), "{file}");
        }
    }
    // The page at `/` too, whatever its query.
    let reply = server.get("/?nodes=500", &[("Accept-Encoding", "br")]);
    assert_eq!(
        (reply.status, reply.header("content-encoding")),
        (200, Some("br"))
    );
    assert_eq!(reply.body, b"br index.html");
}

#[test]
fn hashed_files_are_immutable_and_the_rest_revalidates_with_its_etag() {
    let server = Server::start();
    let hashed = server.get(&format!("/{HASHED_WASM}"), &[("Accept-Encoding", "br")]);
    assert_eq!(
        hashed.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    for path in ["/", "/index.html", &format!("/{PART}")] {
        let first = server.get(path, &[("Accept-Encoding", "br")]);
        assert_eq!(first.status, 200, "{path}");
        assert_eq!(first.header("cache-control"), Some("no-cache"), "{path}");
        let etag = first
            .header("etag")
            .unwrap_or_else(|| panic!("{path}: no ETag in {:?}", first.headers))
            .to_string();
        // A second visit: the browser asks whether its copy is current, and it is.
        let again = server.get(path, &[("Accept-Encoding", "br"), ("If-None-Match", &etag)]);
        assert_eq!(again.status, 304, "{path}: revalidation with {etag}");
        assert!(again.body.is_empty(), "{path}: a 304 has no body");
        assert_eq!(again.header("cache-control"), Some("no-cache"), "{path}");
    }
    let missing = server.get("/nothing-24be41ed07dc66ba.js", &[]);
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("cache-control"),
        Some("no-cache"),
        "a 404 is not kept a year"
    );
}
