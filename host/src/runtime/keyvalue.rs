//! `wasi:keyvalue/store@0.2.0-draft2`, the version Spin and Akamai Functions provide (wasmtime's
//! own wasi-keyvalue crate implements another draft), as in-memory stores. Each tenant has its
//! own store, so a provider's cached token for one tenant is invisible to every other tenant.
//! Nothing is written to disk.
//!
//! With a shared store ([`crate::shared`]) a tenant's entries are also kept in Redis, so that
//! every instance uses the access token one of them obtained (one token request for all, not one
//! per instance). Replaced settings (`setting:<name>`, a rotated refresh token) stay in memory:
//! they are long-lived secrets, kept sealed in the tenant store instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::component::Resource;

use super::state::HostState;

/// Host bindings of `wasi:keyvalue/store@0.2.0-draft2`, generated once: every contract version
/// imports the same interface and maps it here.
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        inline: "package freebusy:host; world keyvalue { import wasi:keyvalue/store@0.2.0-draft2; }",
        path: "../wit/provider@0.1.0/deps/keyvalue-0.2.0-draft2",
        imports: { default: async | trappable },
        with: { "wasi:keyvalue/store.bucket": super::Bucket },
    });
}

use bindings::wasi::keyvalue::store::{self, Error, KeyResponse};

/// The label providers open (`store.open("default")`), as on Spin.
pub const DEFAULT_STORE: &str = "default";

/// Values larger than this are refused: a token is a few KB; this bounds host memory per tenant.
const MAX_VALUE_BYTES: usize = 1 << 20;
/// Keys per store, for the same reason.
const MAX_KEYS: usize = 10_000;

/// How long an entry lives in the shared store after its last write: tokens are rewritten every
/// hour or so; a tenant that is gone leaves nothing behind for long.
const SHARED_TTL: Duration = Duration::from_secs(24 * 3600);

/// One tenant's store, shared by every call for that tenant (and, with a shared store, by every
/// instance).
#[derive(Clone, Default)]
pub struct Store {
    local: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    shared: Option<(Arc<crate::shared::Shared>, String)>,
}

impl Store {
    /// A store, also kept in `shared` under `tenant`'s name when given.
    pub fn new(shared: Option<(Arc<crate::shared::Shared>, String)>) -> Store {
        Store { local: Arc::default(), shared }
    }

    /// Number of keys in this instance (for tests and metrics).
    pub fn len(&self) -> usize {
        self.local.lock().expect("kv store").len()
    }

    /// A value by key, as this instance has it.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.local.lock().expect("kv store").get(key).cloned()
    }

    /// Set a value in this instance (the host's own writes, and tests).
    pub fn set(&self, key: &str, value: &[u8]) {
        self.local.lock().expect("kv store").insert(key.to_string(), value.to_vec());
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shared store and the key there, for keys that are shared.
    fn shared_key(&self, key: &str) -> Option<(&crate::shared::Shared, String)> {
        let (shared, tenant) = self.shared.as_ref()?;
        (!key.starts_with("setting:")).then(|| (shared.as_ref(), shared.key(&format!("kv:{tenant}:{key}"))))
    }

    async fn read(&self, key: &str) -> Option<Vec<u8>> {
        if let Some((shared, shared_key)) = self.shared_key(key) {
            if let Some(Some(value)) = shared.get(&shared_key).await {
                self.set(key, &value);
                return Some(value);
            }
        }
        self.get(key)
    }

    async fn write(&self, key: String, value: Vec<u8>) {
        if let Some((shared, shared_key)) = self.shared_key(&key) {
            shared.set_many(&[(shared_key, value.clone())], SHARED_TTL).await;
        }
        self.local.lock().expect("kv store").insert(key, value);
    }

    async fn remove(&self, key: &str) {
        if let Some((shared, shared_key)) = self.shared_key(key) {
            shared.delete(&shared_key).await;
        }
        self.local.lock().expect("kv store").remove(key);
    }
}

/// An open bucket: a handle on the call's store.
pub struct Bucket(Store);

impl store::Host for HostState {
    async fn open(&mut self, identifier: String) -> wasmtime::Result<Result<Resource<Bucket>, Error>> {
        if identifier != DEFAULT_STORE {
            return Ok(Err(Error::NoSuchStore));
        }
        Ok(Ok(self.table.push(Bucket(self.kv.clone()))?))
    }
}

impl store::HostBucket for HostState {
    async fn get(&mut self, bucket: Resource<Bucket>, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let store = self.table.get(&bucket)?.0.clone();
        Ok(Ok(store.read(&key).await))
    }

    async fn set(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        if value.len() > MAX_VALUE_BYTES {
            return Ok(Err(Error::Other(format!("value larger than {MAX_VALUE_BYTES} bytes"))));
        }
        let store = self.table.get(&bucket)?.0.clone();
        {
            let map = store.local.lock().expect("kv store");
            if map.len() >= MAX_KEYS && !map.contains_key(&key) {
                return Ok(Err(Error::Other(format!("store holds the maximum of {MAX_KEYS} keys"))));
            }
        }
        store.write(key, value).await;
        Ok(Ok(()))
    }

    async fn delete(&mut self, bucket: Resource<Bucket>, key: String) -> wasmtime::Result<Result<(), Error>> {
        let store = self.table.get(&bucket)?.0.clone();
        store.remove(&key).await;
        Ok(Ok(()))
    }

    async fn exists(&mut self, bucket: Resource<Bucket>, key: String) -> wasmtime::Result<Result<bool, Error>> {
        let store = self.table.get(&bucket)?.0.clone();
        Ok(Ok(store.read(&key).await.is_some()))
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        cursor: Option<String>,
    ) -> wasmtime::Result<Result<KeyResponse, Error>> {
        // One page holding every key after the cursor (keys sorted, so the cursor is a key); the
        // keys this instance holds.
        let store = &self.table.get(&bucket)?.0;
        let mut keys: Vec<String> = store.local.lock().expect("kv store").keys().cloned().collect();
        keys.sort();
        if let Some(after) = cursor {
            keys.retain(|k| *k > after);
        }
        Ok(Ok(KeyResponse { keys, cursor: None }))
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}
