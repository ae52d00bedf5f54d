//! Files the host writes itself: secrets it receives (a refresh token from `freebusy login`, a
//! rotated one from a provider), readable by their owner only. Calendar data is never written.

use std::io::Write;
use std::path::Path;

/// Write `value` to `path` readable by its owner only, replacing it atomically (a crash leaves
/// the old file or the new one, never half of either).
pub fn write_private_file(path: &Path, value: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(value.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn a_private_file_is_readable_by_its_owner_only_and_replaced_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("freebusy-files-test-{}", std::process::id()));
        let path = dir.join("sub/token");
        write_private_file(&path, "first").unwrap();
        write_private_file(&path, "second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(!path.with_extension("tmp").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
