//! Secrets: loaded from `--secrets FILE` (TOML) and `EXTRACT_SECRET_<NAME>`
//! environment variables (env wins), referenced in configs as
//! `{{ secrets.NAME }}`, and resolved only inside the host.
//!
//! A resolved value is a [`Secret`], whose `Debug`/`Display` print a
//! placeholder, and every resolved value is registered with a [`Redactor`]
//! that scrubs it from any text shown to the user.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, RwLock};

use anyhow::{Context as _, Result, bail};

/// A secret value. It never prints itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that must send it (an auth header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The secrets available to one run.
#[derive(Default, Clone)]
pub struct Secrets {
    values: BTreeMap<String, Secret>,
    redactor: Redactor,
}

/// The prefix of environment variables that provide secrets.
pub const ENV_PREFIX: &str = "EXTRACT_SECRET_";

impl Secrets {
    /// Load from an optional TOML file and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        let mut secrets = Self::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading secrets file {}", path.display()))?;
            secrets
                .merge_toml(&text)
                .with_context(|| format!("in secrets file {}", path.display()))?;
        }
        secrets.merge_env(std::env::vars());
        Ok(secrets)
    }

    /// Add `name = "value"` pairs from a TOML document.
    pub fn merge_toml(&mut self, text: &str) -> Result<()> {
        // The TOML parser's errors quote the offending line, which may hold a
        // secret value: report only the position.
        let table: toml::Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                let at = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
                bail!("invalid TOML at line {at}: expected top-level `name = \"value\"` lines");
            }
        };
        for (name, value) in table {
            let value = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => bail!("secret `{name}`: expected a string (top-level `{name} = \"...\"`)"),
            };
            self.insert(&name, value);
        }
        Ok(())
    }

    /// Add secrets from `EXTRACT_SECRET_<NAME>` variables; they override the file.
    pub fn merge_env(&mut self, vars: impl IntoIterator<Item = (String, String)>) {
        for (key, value) in vars {
            if let Some(name) = key.strip_prefix(ENV_PREFIX)
                && !name.is_empty()
            {
                let name = name.to_ascii_lowercase();
                // Env wins over the file, whatever case the file used.
                let existing: Vec<String> = self
                    .values
                    .keys()
                    .filter(|k| k.eq_ignore_ascii_case(&name))
                    .cloned()
                    .collect();
                for k in existing {
                    self.values.remove(&k);
                }
                self.insert(&name, value);
            }
        }
    }

    /// Insert one secret.
    pub fn insert(&mut self, name: &str, value: String) {
        self.redactor.add(&value);
        self.values.insert(name.to_string(), Secret(value));
    }

    /// Look a secret up by name (case-insensitively, since env names are upper case).
    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.values.get(name).or_else(|| {
            self.values
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
    }

    /// The redactor that knows every secret value.
    pub fn redactor(&self) -> Redactor {
        self.redactor.clone()
    }

    /// Resolve a config string: `{{ secrets.NAME }}` references are replaced
    /// by their values; other text is kept. `key` names the config key for
    /// error messages.
    pub fn resolve(&self, text: &str, key: &str) -> Result<Secret> {
        let mut out = String::new();
        for part in parse_template(text).with_context(|| format!("in `{key}`"))? {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Secret(name) => match self.get(name) {
                    Some(v) => out.push_str(v.expose()),
                    None => bail!(
                        "`{key}` needs the secret `{name}`, which is not set: add `{name} = \"...\"` \
                         to the --secrets file or set {ENV_PREFIX}{}",
                        name.to_ascii_uppercase()
                    ),
                },
            }
        }
        Ok(Secret(out))
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// A piece of a config string.
#[derive(Debug, PartialEq, Eq)]
pub enum Part<'a> {
    /// Literal text.
    Text(&'a str),
    /// A `{{ secrets.NAME }}` reference.
    Secret(&'a str),
}

/// Split `text` into literal parts and secret references. Accepts
/// `{{ secrets.NAME }}` and `{{ secrets['NAME'] }}` / `{{ secrets["NAME"] }}`.
pub fn parse_template(text: &str) -> Result<Vec<Part<'_>>> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}") else {
            bail!("`{{{{` without a closing `}}}}`");
        };
        let inner = rest[open + 2..open + close].trim();
        let name = if let Some(n) = inner.strip_prefix("secrets.") {
            n.trim()
        } else if let Some(n) = inner.strip_prefix("secrets[") {
            n.trim_end_matches(']')
                .trim()
                .trim_matches(|c| c == '\'' || c == '"')
        } else {
            bail!(
                "only `{{{{ secrets.NAME }}}}` templates are allowed here, found `{{{{ {inner} }}}}`"
            );
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            bail!("invalid secret name `{name}`: use letters, digits, `_` and `-`");
        }
        if open > 0 {
            parts.push(Part::Text(&rest[..open]));
        }
        parts.push(Part::Secret(name));
        rest = &rest[open + close + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    Ok(parts)
}

/// True if and only if `text` holds a `{{ ... }}` template naming
/// `secrets` anywhere, even next to templates [`parse_template`] rejects
/// (so a reference cannot hide behind another template).
pub fn mentions_secret(text: &str) -> bool {
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let inner = after.find("}}").map_or(after, |close| &after[..close]);
        let inner = inner.trim_start_matches(|c: char| c == '{' || c.is_whitespace());
        if inner.starts_with("secrets.") || inner.starts_with("secrets[") {
            return true;
        }
        rest = after;
    }
    false
}

/// Every secret name a string references.
pub fn referenced_names(text: &str) -> Vec<String> {
    parse_template(text)
        .map(|parts| {
            parts
                .into_iter()
                .filter_map(|p| match p {
                    Part::Secret(n) => Some(n.to_string()),
                    Part::Text(_) => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Scrubs known secret values (and their common encodings) from text.
#[derive(Clone, Default)]
pub struct Redactor {
    needles: Arc<RwLock<Vec<String>>>,
}

/// Values shorter than this are not redacted: replacing every "x" (Chargify's
/// fixed password) in every message would make errors unreadable while
/// protecting nothing.
const MIN_REDACT_LEN: usize = 4;

impl Redactor {
    /// Register a value to scrub, with its URL-encoded and base64 forms.
    pub fn add(&self, value: &str) {
        if value.len() < MIN_REDACT_LEN {
            return;
        }
        let mut needles = self.needles.write().unwrap_or_else(|p| p.into_inner());
        let encoded =
            percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        for n in [value.to_string(), encoded] {
            if !needles.contains(&n) {
                needles.push(n);
            }
        }
        // Longest first, so a secret containing another is fully removed.
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    }

    /// Replace every registered value in `text` by `***`.
    pub fn redact(&self, text: &str) -> String {
        let needles = self.needles.read().unwrap_or_else(|p| p.into_inner());
        let mut out = text.to_string();
        for n in needles.iter() {
            if out.contains(n.as_str()) {
                out = out.replace(n.as_str(), "***");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_and_is_case_insensitive() {
        let mut s = Secrets::default();
        s.merge_toml("api_key = \"from-file\"\nother = \"keep\"")
            .unwrap();
        s.merge_env([("EXTRACT_SECRET_API_KEY".to_string(), "from-env".to_string())]);
        assert_eq!(s.get("api_key").unwrap().expose(), "from-env");
        assert_eq!(s.get("other").unwrap().expose(), "keep");
    }

    #[test]
    fn resolve_replaces_references_and_keeps_text() {
        let mut s = Secrets::default();
        s.insert("token", "abc123".into());
        assert_eq!(
            s.resolve("Bearer {{ secrets.token }}", "k")
                .unwrap()
                .expose(),
            "Bearer abc123"
        );
        assert_eq!(
            s.resolve("{{secrets['token']}}", "k").unwrap().expose(),
            "abc123"
        );
        assert_eq!(s.resolve("x", "k").unwrap().expose(), "x");
    }

    #[test]
    fn missing_secret_error_names_key_and_env_var() {
        let s = Secrets::default();
        let err = s
            .resolve("{{ secrets.api_key }}", "client.auth.username")
            .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("client.auth.username"), "{msg}");
        assert!(msg.contains("EXTRACT_SECRET_API_KEY"), "{msg}");
    }

    #[test]
    fn non_secret_template_is_rejected() {
        assert!(parse_template("{{ stream_partition.id }}").is_err());
    }

    #[test]
    fn toml_errors_do_not_echo_values() {
        let mut s = Secrets::default();
        let err = s.merge_toml("api_key = \"supersecret").unwrap_err();
        assert!(!format!("{err:#}").contains("supersecret"));
    }

    #[test]
    fn redactor_scrubs_plain_and_encoded_values() {
        let mut s = Secrets::default();
        s.insert("k", "p@ss word".into());
        let r = s.redactor();
        assert_eq!(r.redact("a p@ss word b"), "a *** b");
        assert_eq!(r.redact("q=p%40ss%20word"), "q=***");
    }

    #[test]
    fn secret_mentions_are_found_beside_other_templates() {
        assert!(mentions_secret("{{ secrets.a }}"));
        assert!(mentions_secret("{{ x }}/{{secrets['a']}}"));
        assert!(mentions_secret("{{ stream_partition.id }}{{ secrets.a }}"));
        assert!(mentions_secret("{{{ secrets.a }}"));
        assert!(!mentions_secret("{{ stream_partition.id }} secrets.a"));
    }

    #[test]
    fn debug_never_shows_value() {
        assert_eq!(
            format!("{:?} {}", Secret::new("abc"), Secret::new("abc")),
            "Secret(***) ***"
        );
    }
}

/// Property tests of the redactor: a registered secret never survives
/// redaction, wherever it sits in a text.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    use crate::fuzz_support::config;

    proptest! {
        #![proptest_config(config())]

        // `*` is left out of secrets: the mask itself is made of it.
        #[test]
        fn redacted_text_never_holds_the_secret(
            secret in "[^*]{4,24}",
            before in "\\PC{0,40}",
            after in "\\PC{0,40}",
            encoded in any::<bool>(),
        ) {
            let mut s = Secrets::default();
            s.insert("k", secret.clone());
            let shown = if encoded {
                percent_encoding::utf8_percent_encode(&secret, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            } else {
                secret.clone()
            };
            let out = s.redactor().redact(&format!("{before}{shown}{after}"));
            prop_assert!(!out.contains(&secret), "{out}");
        }
    }
}
