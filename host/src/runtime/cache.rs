//! The on-disk cache of compiled components.
//!
//! A component is compiled by Cranelift once; the native artifact is stored
//! under a key made of the component's sha256 and the engine's compatibility
//! hash (wasmtime version, target, and every setting that affects code), so
//! an artifact is only ever loaded by an engine that can run it.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled components live, plus an in-process map so that a
/// component used by many extractions is deserialized once.
#[derive(Clone)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
    loaded: Arc<Mutex<HashMap<String, Component>>>,
}

impl ComponentCache {
    /// A cache in `dir` (created on first use), or in memory only when `None`.
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self {
            dir,
            loaded: Arc::default(),
        }
    }

    /// The default cache dir: `$EXTRACT_CACHE_DIR`, else the user's cache dir.
    pub fn default_dir() -> Option<PathBuf> {
        std::env::var_os("EXTRACT_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| dirs::cache_dir().map(|d| d.join("extract").join("components")))
    }

    /// The cache key of `bytes` for `engine`.
    pub fn key(engine: &Engine, bytes: &[u8]) -> String {
        let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
        engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hash);
        let digest = Sha256::digest(bytes);
        format!("{}-{:016x}", hex::encode(digest), engine_hash.finish())
    }

    /// Load `bytes` as a component: from memory, else from the disk cache,
    /// else compile (and store the artifact).
    pub fn load(&self, engine: &Engine, bytes: &[u8]) -> Result<Component> {
        let key = Self::key(engine, bytes);
        if let Some(c) = self.lock().get(&key) {
            return Ok(c.clone());
        }
        let component = match &self.dir {
            Some(dir) => self.load_or_compile(engine, bytes, dir, &key)?,
            None => Component::new(engine, bytes)
                .map_err(anyhow::Error::from)
                .context("compiling the component")?,
        };
        self.lock().insert(key, component.clone());
        Ok(component)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Component>> {
        // A poisoned map only means another thread panicked mid-insert; the
        // map itself is still valid.
        self.loaded.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        dir: &Path,
        key: &str,
    ) -> Result<Component> {
        let path = dir.join(format!("{key}.cwasm"));
        if path.is_file() {
            match deserialize(engine, &path) {
                Ok(c) => return Ok(c),
                Err(e) => tracing::warn!(
                    "ignoring unusable compiled artifact {}: {e:#}; recompiling",
                    path.display()
                ),
            }
        }
        let artifact = engine
            .precompile_component(bytes)
            .map_err(anyhow::Error::from)
            .context("compiling the component")?;
        if let Err(e) = store_atomically(dir, &path, &artifact) {
            tracing::warn!(
                "could not cache the compiled component in {}: {e:#}",
                dir.display()
            );
        }
        deserialize_bytes(engine, &artifact)
    }
}

/// Write via a temporary file and rename, so a crash never leaves a partial
/// artifact under the final name.
fn store_atomically(dir: &Path, path: &Path, artifact: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::write(&tmp, artifact).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> Result<Component> {
    // SAFETY: the file is an artifact this program wrote with
    // `precompile_component` into its own cache directory, atomically, under
    // a key that includes the engine's compatibility hash; wasmtime further
    // checks the header for version and settings. The cache directory must be
    // writable only by the operator (documented in SECURITY.md).
    unsafe { Component::deserialize_file(engine, path) }.map_err(anyhow::Error::from)
}

#[allow(unsafe_code)]
fn deserialize_bytes(engine: &Engine, artifact: &[u8]) -> Result<Component> {
    // SAFETY: `artifact` was produced by `precompile_component` on this very
    // engine a moment ago.
    unsafe { Component::deserialize(engine, artifact) }.map_err(anyhow::Error::from)
}
