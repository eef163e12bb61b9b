//! Member identities and signed statements: what keeps one member from speaking for another.
//!
//! A live member (a browser tab, a native peer) holds an Ed25519 key pair, and its node id is
//! derived from its public key ([`id_of`]): the first 8 bytes of SHA-512 over a domain tag and
//! the key. Claiming an id means finding a key whose digest starts with it, 2^64 tries for a
//! chosen id, so an id names its key's holder. What a member says about *itself* is a
//! [`Statement`] signed with its key, carried with a [`Proof`] (the public key and the
//! signature), and checked by every receiver against the id it claims to be from
//! ([`Proof::verify`]): its liveness and leaving at an incarnation, its key-value writes, the
//! rumors it starts, and the signaling server's join challenge. Anyone can check a proof, with
//! no key exchange beforehand, and a forwarded proof stays as good as the original, which is
//! what gossip needs (news travels through members that did not write it).
//!
//! What is not signed, and why: news about *others* (suspect, dead) is SWIM's third-party
//! evidence and cannot be signed by its subject; it may only name an incarnation the subject
//! signed (the SWIM module checks that), and the subject refutes it. Who sent a message is
//! vouched for by its transport (the signaling server checked the sender's key at join and
//! names it on relayed frames and WebRTC offers).
//!
//! In the simulator, ids are indices and nodes trust each other: proofs are absent there
//! (`Option<Proof>` fields), and no signer means no checking.

use crate::lab::NodeId;
use alloc::vec::Vec;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};

/// Tags every signed byte string (and the id digest): a signature made for Grapevine means
/// nothing elsewhere, and one made for one kind of statement means nothing for another.
const DOMAIN: &[u8] = b"grapevine/1/";

/// The node id of the holder of `public_key`: the first 8 bytes of
/// `SHA-512("grapevine/1/id" ‖ key)`, big-endian. Never 0 (a zero digest prefix maps to 1:
/// 0 is no member's id in signaling).
pub fn id_of(public_key: &[u8; 32]) -> NodeId {
    let mut hash = Sha512::new();
    hash.update(DOMAIN);
    hash.update(b"id");
    hash.update(public_key);
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    NodeId(u64::from_be_bytes(first).max(1))
}

/// A member's key pair. The secret is 32 random bytes the driver draws (the core never draws
/// randomness itself) and keeps (a tab keeps it in `sessionStorage`, so a reload is the same
/// member with the same id).
#[derive(Clone)]
pub struct Identity {
    key: SigningKey,
    id: NodeId,
}

impl core::fmt::Debug for Identity {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the secret.
        f.debug_struct("Identity").field("id", &self.id).finish()
    }
}

impl Identity {
    /// The identity whose secret key is `secret`.
    pub fn from_secret(secret: [u8; 32]) -> Identity {
        let key = SigningKey::from_bytes(&secret);
        let id = id_of(key.verifying_key().as_bytes());
        Identity { key, id }
    }

    /// The secret key, for the driver to keep.
    pub fn secret(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The node id this key gives.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Signs `statement`: the proof any member can check with [`Proof::verify`].
    pub fn sign(&self, statement: &Statement<'_>) -> Proof {
        let signature = self.key.sign(&statement.to_bytes());
        Proof {
            key: self.public_key(),
            r: *signature.r_bytes(),
            s: *signature.s_bytes(),
        }
    }
}

/// A public key and a signature: 96 bytes on the wire. Ed25519's signature is the pair
/// `(R, s)`, a curve point and a scalar, kept as the two halves (serde encodes fixed arrays
/// up to 32 bytes without a length prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Proof {
    /// The signer's public key.
    pub key: [u8; 32],
    /// The signature's `R`.
    pub r: [u8; 32],
    /// The signature's `s`.
    pub s: [u8; 32],
}

/// Why a proof was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// Signed statements are required here and there was none.
    Missing,
    /// The key is not the claimed author's (its id differs).
    WrongKey,
    /// The signature does not verify (forged, or made for other bytes).
    BadSignature,
}

impl AuthError {
    /// The reason as counted and shown.
    pub fn name(self) -> &'static str {
        match self {
            AuthError::Missing => "unsigned",
            AuthError::WrongKey => "wrong-key",
            AuthError::BadSignature => "bad-signature",
        }
    }
}

impl Proof {
    /// Checks that `author` signed `statement`: the key gives `author`'s id, and the
    /// signature verifies (strictly: no small-order keys, no malleable signatures).
    pub fn verify(&self, author: NodeId, statement: &Statement<'_>) -> Result<(), AuthError> {
        if id_of(&self.key) != author {
            return Err(AuthError::WrongKey);
        }
        let key = VerifyingKey::from_bytes(&self.key).map_err(|_| AuthError::BadSignature)?;
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&self.r);
        bytes[32..].copy_from_slice(&self.s);
        key.verify_strict(&statement.to_bytes(), &Signature::from_bytes(&bytes))
            .map_err(|_| AuthError::BadSignature)
    }
}

/// What a member signs. Each kind has its own tag, so a signature for one cannot be passed
/// off as another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Statement<'a> {
    /// SWIM: "I, `member`, am alive at `incarnation`" (also the proof that the incarnation
    /// exists, which news of a suspicion or a death about `member` must name).
    Alive {
        /// The signer.
        member: NodeId,
        /// Its incarnation.
        incarnation: u32,
    },
    /// SWIM: "I, `member`, leave at `incarnation`".
    Left {
        /// The signer.
        member: NodeId,
        /// Its incarnation.
        incarnation: u32,
    },
    /// A key-value write by `origin`: every field of the entry but the proof.
    Write {
        /// The writer.
        origin: NodeId,
        /// Its write number.
        version: u64,
        /// The key.
        key: &'a str,
        /// The value.
        value: &'a str,
        /// The writer's clock, ms.
        timestamp: u64,
        /// The vector clock's components.
        clock: &'a [(NodeId, u64)],
    },
    /// A rumor started by `origin`: its number and text (hops and the forwarding are not
    /// the origin's to sign).
    Rumor {
        /// The starter.
        origin: NodeId,
        /// Its number at the origin.
        seq: u32,
        /// When it started, the origin's clock, ms.
        born_ms: u64,
        /// What it says.
        text: &'a str,
    },
    /// The signaling server's join challenge: "I, `member`, join `room` at this server,
    /// which sent me `nonce`".
    Join {
        /// The joiner.
        member: NodeId,
        /// The room.
        room: &'a str,
        /// The server's random challenge.
        nonce: &'a [u8],
    },
    /// A conductor's order to a room: "in `room`, my order number `seq` is `command`" (the
    /// command's postcard bytes). The room is signed so an order cannot be replayed in
    /// another room; the number so it cannot be replayed in this one.
    Order {
        /// The room.
        room: &'a str,
        /// The order's number (strictly increasing).
        seq: u64,
        /// The command, encoded.
        command: &'a [u8],
    },
}

impl Statement<'_> {
    /// The signed bytes: the domain tag, then the statement in postcard (its variant index
    /// first).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(64);
        bytes.extend_from_slice(DOMAIN);
        // Serialising plain fields into a Vec cannot fail.
        postcard::to_extend(self, bytes).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Identity {
        Identity::from_secret([7; 32])
    }

    #[test]
    fn an_id_is_derived_from_the_public_key_and_a_secret_restores_it() {
        let a = alice();
        assert_eq!(a.id(), id_of(&a.public_key()));
        assert_eq!(Identity::from_secret(a.secret()).id(), a.id());
        assert_ne!(Identity::from_secret([8; 32]).id(), a.id());
    }

    #[test]
    fn a_proof_verifies_for_its_author_and_statement_only() {
        let a = alice();
        let said = Statement::Alive {
            member: a.id(),
            incarnation: 3,
        };
        let proof = a.sign(&said);
        assert_eq!(proof.verify(a.id(), &said), Ok(()));
        let other = Statement::Alive {
            member: a.id(),
            incarnation: 4,
        };
        assert_eq!(proof.verify(a.id(), &other), Err(AuthError::BadSignature));
        let left = Statement::Left {
            member: a.id(),
            incarnation: 3,
        };
        assert_eq!(proof.verify(a.id(), &left), Err(AuthError::BadSignature));
        assert_eq!(proof.verify(NodeId(5), &said), Err(AuthError::WrongKey));
        let mut tampered = proof;
        tampered.s[0] ^= 1;
        assert_eq!(tampered.verify(a.id(), &said), Err(AuthError::BadSignature));
    }

    #[test]
    fn another_key_cannot_sign_for_an_id() {
        let (a, mallory) = (alice(), Identity::from_secret([9; 32]));
        let said = Statement::Left {
            member: a.id(),
            incarnation: 0,
        };
        let mut forged = mallory.sign(&said);
        assert_eq!(forged.verify(a.id(), &said), Err(AuthError::WrongKey));
        // The right key with the wrong signer's signature fails too.
        forged.key = a.public_key();
        assert_eq!(forged.verify(a.id(), &said), Err(AuthError::BadSignature));
    }
}
