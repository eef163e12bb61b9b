//! `grapevine serve`'s flags ([`ServeArgs`]): what each accepts, its default and its help
//! text. The caps ([`super::limits`]) and the ICE servers ([`super::ice`]) are read from them.

use clap::Args;
use std::path::PathBuf;

/// `grapevine serve`'s flags.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Port to listen on (0: any free port; the line printed at start names it).
    #[arg(long, value_name = "P", default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on: 127.0.0.1 (this machine only) or 0.0.0.0 (the LAN too).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// The built page (trunk build --release --dist DIR).
    #[arg(long, value_name = "DIR", default_value = "dist")]
    pub dist: PathBuf,
    /// A STUN server the pages should use, e.g. stun:stun.example.org:3478 (repeatable).
    #[arg(long, value_name = "URL")]
    pub stun: Vec<String>,
    /// A TURN server, e.g. turn:turn.example.org:3478 (with --turn-user, and --turn-secret
    /// or --turn-credential).
    #[arg(long, value_name = "URL", requires = "turn_user")]
    pub turn: Option<String>,
    /// The TURN server's user name.
    #[arg(long, value_name = "NAME")]
    pub turn_user: Option<String>,
    /// The TURN server's shared secret (coturn's `use-auth-secret` / `static-auth-secret`):
    /// pages get a credential derived from it that expires in an hour, never the secret.
    #[arg(long, value_name = "SECRET", conflicts_with = "turn_credential")]
    pub turn_secret: Option<String>,
    /// A fixed TURN credential (coturn's `lt-cred-mech`): handed to every page as it is, so
    /// anyone who opens the page can use the TURN server for good; prefer --turn-secret.
    #[arg(long, value_name = "CREDENTIAL")]
    pub turn_credential: Option<String>,
    /// Another origin whose pages may join (repeatable), e.g. https://class.example.org:
    /// by default only pages this server served (same host) and clients that send no
    /// Origin (native peers) may.
    #[arg(long, value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,
    /// Most peers in one room (a lecture hall fits).
    #[arg(long, value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub max_room_peers: u32,
    /// Most rooms at once.
    #[arg(long, value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_rooms: u32,
    /// Largest signaling frame, bytes (an offer with its candidates is a few KiB).
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024,
          value_parser = clap::value_parser!(u32).range(1024..=16 * 1024 * 1024))]
    pub max_frame_bytes: u32,
    /// Frames a connection may send per second, on average (twice that in a burst).
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_rate: u32,
    /// Most connections from one IP address at once: a class behind one NAT shares an
    /// address, so the default admits a lecture hall; it still stops one machine from taking
    /// every room slot.
    #[arg(long, value_name = "N", default_value_t = 300,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_peers_per_ip: u32,
    /// Joins one IP address may attempt per second, on average (bursts of --max-peers-per-ip,
    /// or two seconds' worth if more: a class behind one NAT joining at once passes; a join
    /// storm does not).
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_joins_per_ip: u32,
    /// Most rooms one IP address may have members in at once (a school behind one NAT may
    /// run several classes, each split into groups; one address cannot take every room).
    #[arg(long, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_rooms_per_ip: u32,
    /// Relayed bytes a connection may send per second, on average (twice that in a burst).
    #[arg(long, value_name = "BYTES", default_value_t = 128 * 1024,
          value_parser = clap::value_parser!(u32).range(1024..=64 * 1024 * 1024))]
    pub max_relay_bytes: u32,
    /// The token that makes a tab the conductor of the room `--room` names, and of no other
    /// (the conductor link's `conductor=` parameter): 8 to 128 letters, digits, `-` or `_`.
    /// Without it, a random one is drawn; both links are printed at start.
    #[arg(long, value_name = "TOKEN")]
    pub conductor_token: Option<String>,
    /// Another room and its own conductor token (repeatable): several classes on one
    /// server, each teacher conducting only their room. Its links are printed at start too.
    #[arg(long, value_name = "ROOM=TOKEN")]
    pub conductor: Vec<String>,
    /// Admit only members who give the room's join code (the conductor's page shows it, and
    /// its QR code carries it). With CODE: that code, in every room, for the whole session
    /// (4 to 32 letters or digits; for tests, and for teachers who print it). Without: six
    /// digits per room, changing every five minutes (a code is taken for ten). A member is
    /// admitted once: a reload or a reconnection later needs no code; the conductor never
    /// does.
    #[arg(long, value_name = "CODE", num_args = 0..=1, default_missing_value = "")]
    pub join_code: Option<String>,
    /// The room the printed student and conductor links name (any room can be joined).
    #[arg(long, value_name = "NAME", default_value = "class")]
    pub room: String,
    /// Seconds of silence (no frame, no pong) after which a connection is closed.
    #[arg(long, value_name = "S", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_secs: u64,
}
