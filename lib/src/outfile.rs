//! Output files that appear under their name only when complete: written to a temporary file
//! beside the target, then renamed. A target that exists and is not a regular file (`/dev/null`, a
//! FIFO, a process substitution's `/dev/fd/N`) is written in place instead, as a stream: the rename
//! would replace the device or pipe with a file.

use std::fs::File;
use std::io;
use std::path::Path;

/// Whether `path` is an existing device, FIFO or socket, which is written in place.
pub fn writes_in_place(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// A temporary file in `path`'s folder, to be renamed to `path` when complete; readable by others
/// once renamed, like any file a tool writes (not `0600`).
pub fn temporary_beside(path: &Path) -> io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".mire2e-partial-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    builder.tempfile_in(folder(path))
}

/// Writes `path` whole with `write`: through [`temporary_beside`] and a rename, or in place where
/// [`writes_in_place`].
pub fn write_whole(path: &Path, write: impl FnOnce(&File) -> io::Result<()>) -> io::Result<()> {
    if writes_in_place(path) {
        return write(&File::options().write(true).open(path)?);
    }
    let tmp = temporary_beside(path)?;
    write(tmp.as_file())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The folder `path` is in (`.` for a bare file name).
pub(crate) fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}
