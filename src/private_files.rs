//! Files that hold secrets (signing keys, the SQLite database with its
//! password hashes) and the directories they live in: readable by the
//! service's own user only, 0600 files in 0700 directories.

use std::io::Write;
use std::path::Path;

/// Creates `path` and any missing parents; the directories this creates are
/// owner-only. Existing directories are left as they are: they are the
/// operator's.
pub fn create_dir_all(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Writes `contents` to a new owner-only file; never overwrites one.
pub fn write_new(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?
        .write_all(contents)?;
    Ok(())
}

/// Makes sure `path` exists and is owner-only, creating it empty if needed,
/// and narrows the files beside it whose names extend it (SQLite's `-wal`
/// and `-shm`, which SQLite creates with the database file's mode).
pub fn ensure_owner_only(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?;
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm", "-journal"] {
        use std::os::unix::fs::PermissionsExt;
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = Path::new(&name);
        if let Ok(metadata) = std::fs::metadata(file)
            && metadata.permissions().mode() & 0o077 != 0
        {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}
