//! The admin key: from the config (`admin.key`), or generated once into
//! `<data_dir>/admin.key` (mode 0600) and read from there afterwards.
//!
//! Runs at start-up, before the admin listener binds. The key is never
//! logged; the banner names the file.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sluice_store::keys::generate_key;

use crate::config::secret::Secret;
use crate::config::tenancy::AdminConfig;

/// Where a generated admin key lives.
pub fn key_file(data_dir: &Path) -> PathBuf {
    data_dir.join("admin.key")
}

/// Where the admin key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Config,
    File(PathBuf),
}

/// The admin key, and where it came from.
pub fn resolve(cfg: &AdminConfig, data_dir: &Path) -> std::io::Result<(Secret, Source)> {
    if let Some(k) = &cfg.key {
        return Ok((k.clone(), Source::Config));
    }
    let path = key_file(data_dir);
    #[expect(
        clippy::disallowed_methods,
        reason = "start-up, before the listeners run"
    )]
    match std::fs::read_to_string(&path) {
        Ok(k) if k.trim().len() >= 16 => return Ok((Secret::new(k.trim()), Source::File(path))),
        Ok(_) => {
            return Err(std::io::Error::other(format!(
                "{} is too short to be an admin key",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(data_dir)?;
    let key = generate_key().replacen("sk-sluice-", "sk-sluice-admin-", 1);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&path)?;
    f.write_all(key.as_bytes())?;
    f.write_all(b"\n")?;
    Ok((Secret::new(key), Source::File(path)))
}

/// The admin key for a client (the CLI): from the config, or the file a
/// running gateway generated. Never creates one.
pub fn resolve_existing(cfg: &AdminConfig, data_dir: &Path) -> std::io::Result<String> {
    if let Some(k) = &cfg.key {
        return Ok(k.expose().to_owned());
    }
    let path = key_file(data_dir);
    #[expect(clippy::disallowed_methods, reason = "a CLI command, not the server")]
    let k = std::fs::read_to_string(&path).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "cannot read the admin key from {} ({e}); pass --admin-key or set SLUICE_ADMIN_KEY",
                path.display()
            ),
        )
    })?;
    Ok(k.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tenancy::default_admin;

    #[test]
    fn generated_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (a, src) = resolve(&default_admin(), dir.path()).unwrap();
        assert_eq!(src, Source::File(key_file(dir.path())));
        assert!(a.expose().starts_with("sk-sluice-admin-"));
        let (b, _) = resolve(&default_admin(), dir.path()).unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_file(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
