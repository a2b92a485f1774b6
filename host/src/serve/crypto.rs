//! The server's secrets at rest and its API tokens: the operator's master
//! key seals tenant secrets (XChaCha20-Poly1305, a fresh random nonce per
//! value, the tenant and secret name bound as associated data); tokens are
//! random and stored only as their SHA-256.

use std::path::Path;

use anyhow::{Context as _, Result, anyhow, bail};
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use sha2::{Digest, Sha256};

/// Nonce length of XChaCha20-Poly1305: long enough that random nonces
/// never repeat in practice.
const NONCE_BYTES: usize = 24;

/// The operator's key. It never prints itself.
pub struct MasterKey {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl MasterKey {
    /// Read a key file: 32 bytes as 64 hex characters (what `openssl rand
    /// -hex 32` writes), surrounding whitespace ignored.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the secret key file {}", path.display()))?;
        Self::from_hex(text.trim())
            .with_context(|| format!("in the secret key file {}", path.display()))
    }

    /// Parse 64 hex characters. The error never quotes the text.
    pub fn from_hex(text: &str) -> Result<Self> {
        if text.len() != 64 {
            bail!(
                "expected a 32-byte key as 64 hex characters (`openssl rand -hex 32`), found {} characters",
                text.len()
            );
        }
        let bytes = hex::decode(text).map_err(|_| {
            anyhow!("the key is not hexadecimal (`openssl rand -hex 32` writes one)")
        })?;
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
            .map_err(|_| anyhow!("the key is not 32 bytes long"))?;
        Ok(Self { cipher })
    }

    /// Encrypt `plaintext`, bound to `context` (which must be given again to
    /// open it): nonce followed by ciphertext and tag.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let nonce_bytes: [u8; NONCE_BYTES] = rand::random();
        let nonce = chacha20poly1305::XNonce::from(nonce_bytes);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| anyhow!("encrypting a secret failed"))?;
        let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypt what [`MasterKey::seal`] produced for the same `context`.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < NONCE_BYTES {
            bail!("a stored secret is truncated");
        }
        let (nonce_bytes, body) = sealed.split_at(NONCE_BYTES);
        let nonce_bytes: [u8; NONCE_BYTES] = nonce_bytes
            .try_into()
            .map_err(|_| anyhow!("a stored secret is truncated"))?;
        let nonce = chacha20poly1305::XNonce::from(nonce_bytes);
        self.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| {
                anyhow!(
                    "a stored secret cannot be decrypted: the --secret-key-file is not the key it was stored with"
                )
            })
    }
}

/// A new random identifier: 16 bytes as hex.
pub fn new_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// A new API token: a recognizable prefix and 32 random bytes as hex.
pub fn new_token() -> String {
    format!("ext_{}", hex::encode(rand::random::<[u8; 32]>()))
}

/// The stored form of a token: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compare two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn sealed_values_open_only_with_their_context() {
        let key = MasterKey::from_hex(KEY).expect("key");
        let sealed = key.seal("t1/api_key", b"hunter2").expect("seal");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(key.open("t1/api_key", &sealed).expect("open"), b"hunter2");
        assert!(key.open("t2/api_key", &sealed).is_err());
        // A fresh nonce each time.
        assert_ne!(sealed, key.seal("t1/api_key", b"hunter2").expect("seal"));
    }

    #[test]
    fn a_different_key_cannot_open_a_value() {
        let key = MasterKey::from_hex(KEY).expect("key");
        let other = MasterKey::from_hex(&KEY.replace('0', "f")).expect("key");
        let sealed = key.seal("c", b"v").expect("seal");
        assert!(other.open("c", &sealed).is_err());
    }

    #[test]
    fn malformed_keys_are_refused_without_quoting_them() {
        let e = MasterKey::from_hex("abc").expect_err("short");
        assert!(e.to_string().contains("64 hex characters"), "{e}");
        let e = MasterKey::from_hex(&"z".repeat(64)).expect_err("not hex");
        assert!(!e.to_string().contains("zzzz"), "{e}");
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
