//! The ICE servers (STUN, TURN) the pages should use, as the flags give them: what `/config`
//! answers and each welcome carries.
//!
//! A TURN server is given either with a fixed credential, handed to every page as it is, or
//! with a shared secret, from which each page gets a credential that expires
//! ([`turn_credential`]): the secret itself never leaves the server.

use super::args::ServeArgs;
use grapevine_core::signal::IceServer;
use std::time::Duration;

/// How long a TURN credential derived from the shared secret is valid.
const TURN_TTL: Duration = Duration::from_secs(3_600);

/// The ICE servers, as the flags gave them.
pub(super) struct Ice {
    /// STUN servers, and a TURN server with a fixed credential.
    fixed: Vec<IceServer>,
    /// A TURN server with a shared secret: (URL, user, secret).
    turn_rest: Option<(String, String, String)>,
}

impl Ice {
    /// The servers `args` name.
    pub(super) fn of(args: &ServeArgs) -> Ice {
        let mut fixed = Vec::new();
        if !args.stun.is_empty() {
            fixed.push(IceServer {
                urls: args.stun.clone(),
                username: None,
                credential: None,
            });
        }
        let mut turn_rest = None;
        if let Some(turn) = &args.turn {
            let user = args.turn_user.clone().unwrap_or_default();
            match &args.turn_secret {
                Some(secret) => turn_rest = Some((turn.clone(), user, secret.clone())),
                None => fixed.push(IceServer {
                    urls: vec![turn.clone()],
                    username: Some(user),
                    credential: args.turn_credential.clone(),
                }),
            }
        }
        Ice { fixed, turn_rest }
    }

    /// The ICE servers a page gets now: with a shared TURN secret, a credential for
    /// `expiry:user` (coturn's REST API scheme) that expires in [`TURN_TTL`].
    pub(super) fn servers(&self) -> Vec<IceServer> {
        let mut servers = self.fixed.clone();
        if let Some((url, user, secret)) = &self.turn_rest {
            let expiry = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                + TURN_TTL;
            let (username, credential) = turn_credential(user, secret, expiry.as_secs());
            servers.push(IceServer {
                urls: vec![url.clone()],
                username: Some(username),
                credential: Some(credential),
            });
        }
        servers
    }
}

/// A TURN credential under a shared secret (coturn's REST API scheme, `use-auth-secret`):
/// the user name is `expiry:user` (expiry in Unix seconds) and the credential
/// `base64(HMAC-SHA1(secret, username))`. The TURN server recomputes it and refuses it after
/// the expiry.
fn turn_credential(user: &str, secret: &str, expiry: u64) -> (String, String) {
    use base64::Engine;
    use hmac::Mac;
    let username = format!("{expiry}:{user}");
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(username.as_bytes());
    let credential = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (username, credential)
}
