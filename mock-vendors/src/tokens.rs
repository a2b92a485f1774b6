//! OAuth access tokens issued by the mock token endpoints (Younium, PayPal):
//! real expiry, optional early revocation after N uses.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::datagen::{Rng, UPPER_ALNUM};

/// Why a bearer token was refused, or that it is fine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenCheck {
    /// Valid; one use was counted.
    Valid,
    /// Never issued by this server.
    Unknown,
    /// Past its `expires_in`.
    Expired,
    /// Used `token_max_uses` times already: revoked early.
    Revoked,
}

#[derive(Debug)]
struct Token {
    expires_at: Instant,
    uses: u32,
}

/// Tokens of one server.
#[derive(Debug)]
pub struct Tokens {
    prefix: &'static str,
    seed: u64,
    issued: u64,
    live: HashMap<String, Token>,
}

impl Tokens {
    /// No token issued yet; issued tokens start with `prefix`.
    pub fn new(prefix: &'static str, seed: u64) -> Self {
        Self {
            prefix,
            seed,
            issued: 0,
            live: HashMap::new(),
        }
    }

    /// Issues a token valid for `lifetime`.
    pub fn issue(&mut self, lifetime: Duration) -> String {
        self.issued += 1;
        let mut rng = Rng::new(self.seed, "token", self.issued);
        let token = format!("{}{}", self.prefix, rng.chars(UPPER_ALNUM, 40));
        self.live.insert(
            token.clone(),
            Token {
                expires_at: Instant::now() + lifetime,
                uses: 0,
            },
        );
        token
    }

    /// Checks `token` and, when valid, counts one use against `max_uses`.
    pub fn check_and_use(&mut self, token: &str, max_uses: Option<u32>) -> TokenCheck {
        let Some(t) = self.live.get_mut(token) else {
            return TokenCheck::Unknown;
        };
        if Instant::now() >= t.expires_at {
            return TokenCheck::Expired;
        }
        if max_uses.is_some_and(|max| t.uses >= max) {
            return TokenCheck::Revoked;
        }
        t.uses += 1;
        TokenCheck::Valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_revoked_after_max_uses() {
        let mut t = Tokens::new("T", 1);
        let a = t.issue(Duration::from_secs(60));
        assert_eq!(t.check_and_use(&a, Some(2)), TokenCheck::Valid);
        assert_eq!(t.check_and_use(&a, Some(2)), TokenCheck::Valid);
        assert_eq!(t.check_and_use(&a, Some(2)), TokenCheck::Revoked);
        let b = t.issue(Duration::from_secs(60));
        assert_ne!(a, b);
        assert_eq!(t.check_and_use(&b, Some(2)), TokenCheck::Valid);
        assert_eq!(t.check_and_use("nope", None), TokenCheck::Unknown);
    }

    #[test]
    fn token_expires() {
        let mut t = Tokens::new("T", 1);
        let a = t.issue(Duration::ZERO);
        assert_eq!(t.check_and_use(&a, None), TokenCheck::Expired);
    }
}
