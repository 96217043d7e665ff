//! Per-org data keys, unwrapped from the database on first use and kept in memory.

use crate::CoreError;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use testvault_crypto::{DataKey, MasterKey, SealPlace, WrappedKey};
use testvault_domain::OrgId;
use testvault_store::Store;

pub(crate) struct Keyring {
    master: MasterKey,
    cache: RwLock<HashMap<OrgId, Arc<DataKey>>>,
}

impl Keyring {
    pub(crate) fn new(master: MasterKey) -> Self {
        Self {
            master,
            cache: RwLock::new(HashMap::new()),
        }
    }

    pub(crate) fn master(&self) -> &MasterKey {
        &self.master
    }

    /// The org's data key, from the cache or unwrapped from the store.
    pub(crate) async fn data_key(
        &self,
        store: &Store,
        org: OrgId,
    ) -> Result<Arc<DataKey>, CoreError> {
        if let Some(k) = self.cache.read().ok().and_then(|c| c.get(&org).cloned()) {
            return Ok(k);
        }
        let (wrapped, _master_id) = store
            .wrapped_org_key(org)
            .await?
            .ok_or_else(|| CoreError::internal(format!("org {org} has no data key")))?;
        let key = Arc::new(self.master.unwrap(&WrappedKey(wrapped), &org.to_string())?);
        if let Ok(mut c) = self.cache.write() {
            c.insert(org, key.clone());
        }
        Ok(key)
    }

    pub(crate) async fn seal(
        &self,
        store: &Store,
        org: OrgId,
        table: &str,
        column: &str,
        row: &str,
        plaintext: &str,
    ) -> Result<Vec<u8>, CoreError> {
        self.seal_bytes(store, org, table, column, row, plaintext.as_bytes())
            .await
    }

    /// `seal` for bytes (attachments).
    pub(crate) async fn seal_bytes(
        &self,
        store: &Store,
        org: OrgId,
        table: &str,
        column: &str,
        row: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CoreError> {
        let key = self.data_key(store, org).await?;
        let org_s = org.to_string();
        let place = SealPlace {
            org: &org_s,
            table,
            column,
            row,
        };
        Ok(key.seal(&place, plaintext)?)
    }

    pub(crate) async fn open(
        &self,
        store: &Store,
        org: OrgId,
        table: &str,
        column: &str,
        row: &str,
        sealed: &[u8],
    ) -> Result<String, CoreError> {
        let bytes = self
            .open_bytes(store, org, table, column, row, sealed)
            .await?;
        String::from_utf8(bytes).map_err(|_| CoreError::internal("sealed text is not UTF-8"))
    }

    /// `open` for bytes (attachments).
    pub(crate) async fn open_bytes(
        &self,
        store: &Store,
        org: OrgId,
        table: &str,
        column: &str,
        row: &str,
        sealed: &[u8],
    ) -> Result<Vec<u8>, CoreError> {
        let key = self.data_key(store, org).await?;
        let org_s = org.to_string();
        let place = SealPlace {
            org: &org_s,
            table,
            column,
            row,
        };
        Ok(key.open(&place, sealed)?.to_vec())
    }
}
