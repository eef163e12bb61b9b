//! What every connection lives under: the caps ([`Limits`], from the flags), the token
//! buckets that meter frames, relayed bytes and joins ([`Bucket`]), and who may open a
//! connection at all (the page's origin, the joins per address).
//!
//! The server is reachable by anyone who can reach the port: these are what keep one client,
//! or one address, from taking what the others need. Per-address caps count an IPv6 host by
//! its /64 ([`address`]).

use super::args::ServeArgs;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The limits every connection lives under.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    pub(super) room_peers: usize,
    pub(super) rooms: usize,
    pub(super) per_ip: usize,
    pub(super) joins_per_ip: f64,
    pub(super) rooms_per_ip: usize,
    pub(super) frame_bytes: usize,
    pub(super) rate: f64,
    pub(super) relay_bytes: f64,
    pub(super) idle: Duration,
}

impl Limits {
    /// Most members of one room from one address: all but an eighth of the room (224 of
    /// 256), so a class behind one NAT fits and a room filled from one address still has
    /// places for students at others (the conductor's tab is admitted past every cap).
    pub(super) fn room_share_per_ip(&self) -> usize {
        (self.room_peers - self.room_peers / 8).max(1)
    }

    /// The limits `args` set.
    pub(super) fn of(args: &ServeArgs) -> Limits {
        Limits {
            room_peers: args.max_room_peers as usize,
            rooms: args.max_rooms as usize,
            per_ip: args.max_peers_per_ip as usize,
            joins_per_ip: f64::from(args.max_joins_per_ip),
            rooms_per_ip: args.max_rooms_per_ip as usize,
            frame_bytes: args.max_frame_bytes as usize,
            rate: f64::from(args.max_rate),
            relay_bytes: f64::from(args.max_relay_bytes),
            idle: Duration::from_secs(args.idle_secs),
        }
    }
}

/// A token bucket: `rate` a second on average (frames, or bytes), bursts of twice that.
pub(super) struct Bucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl Bucket {
    pub(super) fn new(rate: f64) -> Self {
        Bucket::with_burst(rate, 2.0 * rate)
    }

    /// `rate` a second, bursts of `burst`.
    fn with_burst(rate: f64, burst: f64) -> Self {
        Bucket {
            tokens: burst,
            rate,
            burst,
            last: Instant::now(),
        }
    }

    /// Whether it has refilled to the brim.
    fn is_full(&self) -> bool {
        self.tokens + self.last.elapsed().as_secs_f64() * self.rate >= self.burst
    }

    /// Takes `amount` if there is that much.
    pub(super) fn take(&mut self, amount: f64) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
        if self.tokens >= amount {
            self.tokens -= amount;
            true
        } else {
            false
        }
    }
}

/// Join attempts per IP address (a token bucket each).
#[derive(Default)]
pub(super) struct JoinRate(Mutex<HashMap<IpAddr, Bucket>>);

impl JoinRate {
    /// Whether `ip` may attempt a join now.
    pub(super) fn may_join(&self, ip: IpAddr, limits: &Limits) -> bool {
        let mut joins = self.0.lock().expect("joins");
        if joins.len() > 10_000 {
            // Forget addresses whose bucket is full again (they are not joining now).
            joins.retain(|_, b| !b.is_full());
        }
        let rate = limits.joins_per_ip;
        let burst = (limits.per_ip as f64).max(2.0 * rate);
        joins
            .entry(ip)
            .or_insert_with(|| Bucket::with_burst(rate, burst))
            .take(1.0)
    }
}

/// Whether a page from `origin` may join: no Origin (not a browser), the server's own (`host`,
/// as the request named it, when that host is one a page of this server is served under:
/// see [`own_host`]), or one of `allowed` (`--allow-origin`).
pub(super) fn origin_allowed(allowed: &[String], origin: Option<&str>, host: Option<&str>) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    let own = host.is_some_and(|h| {
        origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            == Some(h)
            && own_host(h)
    });
    own || allowed.iter().any(|a| a == origin)
}

/// Whether `host` (a Host header: a name or address, and maybe a port) is one this server's
/// pages are served under without being named by `--allow-origin`: an IP address, `localhost`,
/// or a `.local` name (mDNS, answered on the local network only). Any other name could be a
/// DNS-rebinding page: a site whose name its owner points at this server's address after the
/// page loaded, so that its Origin and the Host it sends agree.
fn own_host(host: &str) -> bool {
    if host.starts_with('[') {
        return true; // An IPv6 address, [::1]:8080.
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name.parse::<std::net::Ipv4Addr>().is_ok()
        || name == "localhost"
        || name.ends_with(".localhost")
        || name.ends_with(".local")
}

/// Whether `origin` is written as browsers send it: `http(s)://host[:port]`, no path.
pub(super) fn valid_origin(origin: &str) -> bool {
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    rest.is_some_and(|r| !r.is_empty() && !r.contains(['/', '?', '#', ' ']))
}

/// The address the per-address caps count: an IPv4 address, or an IPv6 address's /64
/// network (one host is given a whole /64, and could otherwise join from 2^64 addresses).
pub(super) fn address(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let net = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(std::net::Ipv6Addr::from(net))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One host's IPv6 /64 is one address for the caps; IPv4 (mapped or not) is itself.
    #[test]
    fn per_address_caps_count_an_ipv6_host_by_its_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address(a), address(b));
        assert_ne!(address(a), address(c));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address(v4), v4);
        assert_eq!(address(mapped), v4);
    }

    /// A page of the server's own host: an address, localhost or a .local name; a name
    /// that could point anywhere (DNS rebinding) only when --allow-origin names it.
    #[test]
    fn a_page_of_the_servers_own_host_joins_and_a_rebound_name_does_not() {
        let own = |origin: &str, host: &str| origin_allowed(&[], Some(origin), Some(host));
        assert!(own("http://192.168.1.20:8080", "192.168.1.20:8080"));
        assert!(own("http://[::1]:8080", "[::1]:8080"));
        assert!(own("http://localhost:8080", "localhost:8080"));
        assert!(own("http://teacher.local:8080", "teacher.local:8080"));
        assert!(!own("http://evil.example:8080", "evil.example:8080"));
        assert!(!own("http://192.168.1.20:8080", "192.168.1.21:8080"));
        let allowed = ["https://class.example.org".to_string()];
        assert!(origin_allowed(
            &allowed,
            Some("https://class.example.org"),
            Some("class.example.org")
        ));
        assert!(origin_allowed(&[], None, Some("anything")), "not a browser");
    }

    /// Origins as browsers write them.
    #[test]
    fn allowed_origins_are_checked_for_their_form() {
        assert!(valid_origin("https://class.example.org"));
        assert!(valid_origin("http://127.0.0.1:8080"));
        assert!(!valid_origin("class.example.org"));
        assert!(!valid_origin("https://class.example.org/"));
        assert!(!valid_origin("https://"));
    }
}
