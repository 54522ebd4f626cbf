//! Filesystem helper shared by the converter and the hash cache: atomic replacement of a file.

use std::path::Path;

use tempfile::NamedTempFile;

use crate::model::error::ModelError;

/// The directory a path's file lives in (`.` for a bare file name).
pub(crate) fn parent_directory(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// A temporary file beside `destination`, to be written completely and then renamed over it
/// (`persist`), so readers see either the old file or the whole new one, never a partial one.
///
/// On Unix it is created with mode 0666 minus the umask, like `File::create`, instead of
/// tempfile's private 0600: the result is a shared model file, not a secret.
pub(crate) fn temporary_file_beside(destination: &Path) -> Result<NamedTempFile, ModelError> {
    let directory = parent_directory(destination);
    let file_name = destination
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{file_name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".partial");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder
        .tempfile_in(directory)
        .map_err(ModelError::io(directory, "creating a temporary file in"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_files_sit_beside_the_destination() {
        let directory = tempfile::tempdir().unwrap();
        let temporary = temporary_file_beside(&directory.path().join("model.bin")).unwrap();
        assert_eq!(temporary.path().parent(), Some(directory.path()));
        assert!(
            temporary
                .path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".model.bin.")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Readable by others unless the umask forbids it; never the 0600 of a plain tempfile.
            let mode = temporary.as_file().metadata().unwrap().permissions().mode() & 0o777;
            assert_ne!(mode, 0o600, "{mode:o}");
        }
        assert_eq!(parent_directory(Path::new("model.bin")), Path::new("."));
    }
}
