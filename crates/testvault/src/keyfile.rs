//! The data directory and the master key on disk: made on first start with owner-only
//! permissions, and refused when anyone else could read it.

use crate::StartError;
use crate::config::Config;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use testvault_crypto::MasterKey;

pub const MASTER_KEY_FILE: &str = "master.key";

/// Creates the data directory (mode 0700) if missing.
pub fn ensure_data_dir(dir: &Path) -> Result<(), StartError> {
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(StartError::io(format!(
                "creating data directory {}",
                dir.display()
            )))?;
    }
    Ok(())
}

/// The master key: from the configuration if given, else `<data dir>/master.key`, made if absent.
pub fn master_key(cfg: &Config) -> Result<MasterKey, StartError> {
    if let Some(secret) = &cfg.master_key {
        return MasterKey::from_hex(secret.expose())
            .map_err(|e| StartError::Insecure(format!("TESTVAULT_MASTER_KEY: {e}")));
    }
    let path = cfg.data_dir.join(MASTER_KEY_FILE);
    match read_key_file(&path) {
        Ok(key) => Ok(key),
        Err(StartError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            create_key_file(&path)
        }
        Err(e) => Err(e),
    }
}

fn read_key_file(path: &Path) -> Result<MasterKey, StartError> {
    let meta = fs::metadata(path).map_err(StartError::io(format!("reading {}", path.display())))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(StartError::Insecure(format!(
            "{} is readable by other users (mode {mode:o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    let text = zeroize::Zeroizing::new(
        fs::read_to_string(path).map_err(StartError::io(format!("reading {}", path.display())))?,
    );
    MasterKey::from_hex(&text).map_err(|e| StartError::Insecure(format!("{}: {e}", path.display())))
}

fn create_key_file(path: &Path) -> Result<MasterKey, StartError> {
    let key = MasterKey::generate().map_err(|e| StartError::Insecure(e.to_string()))?;
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match file {
        Ok(mut f) => {
            f.write_all(format!("{}\n", key.to_hex().as_str()).as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(StartError::io(format!("writing {}", path.display())))?;
            tracing::info!(path = %path.display(), key.id = %key.id(), "created a new master key; back it up: without it the data cannot be read");
            Ok(key)
        }
        // Another process (the server, or an admin command) made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(path),
        Err(e) => Err(StartError::io(format!("creating {}", path.display()))(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Layer;

    fn cfg(dir: &Path) -> Result<Config, StartError> {
        Config::resolve(
            None,
            Layer::default(),
            Layer {
                data_dir: Some(dir.into()),
                ..Layer::default()
            },
        )
    }

    #[test]
    fn creates_key_with_owner_only_mode_and_reuses_it() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let cfg = cfg(dir.path())?;
        let first = master_key(&cfg)?;
        let mode = fs::metadata(dir.path().join(MASTER_KEY_FILE))?
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(master_key(&cfg)?.id(), first.id());
        Ok(())
    }

    #[test]
    fn refuses_a_world_readable_or_weak_key() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let cfg = cfg(dir.path())?;
        master_key(&cfg)?;
        let path = dir.path().join(MASTER_KEY_FILE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644))?;
        let err = master_key(&cfg)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("readable by other users"), "{err}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
        fs::write(&path, "00".repeat(32))?;
        let err = master_key(&cfg)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("weak"), "{err}");
        Ok(())
    }
}
