//! Reading what an atlas names on disk (or in a map of its files), with the loader's bounds:
//! `atlas.json` itself and the context files of its packs. Used by `load` (the document) and
//! `validate` (each pack's files), which depend on this module and not on each other.

use std::path::{Component, Path, PathBuf};

/// Largest atlas document accepted (bytes).
pub const MAX_ATLAS_BYTES: usize = 16 * 1024 * 1024;
/// Largest context file accepted (bytes).
pub const MAX_PACK_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Largest total of one atlas's context files (bytes).
pub const MAX_PACK_FILES_TOTAL_BYTES: u64 = 64 * 1024 * 1024;

/// Reads at most `limit` bytes of a regular file; `Err(None)` when it is larger or not a
/// regular file (device, FIFO, directory), checked before anything is read, so a link to
/// `/dev/zero` or a FIFO never grows memory or blocks.
pub(crate) fn read_regular(path: &Path, limit: u64) -> std::result::Result<Vec<u8>, ReadRefusal> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(ReadRefusal::Io)?;
    if !meta.is_file() {
        return Err(ReadRefusal::NotRegular);
    }
    if meta.len() > limit {
        return Err(ReadRefusal::TooLarge(meta.len()));
    }
    let mut f = std::fs::File::open(path).map_err(ReadRefusal::Io)?;
    let mut buf = Vec::with_capacity(meta.len() as usize);
    // The file may grow between the check and the read: never take more than the limit.
    (&mut f)
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(ReadRefusal::Io)?;
    if buf.len() as u64 > limit {
        return Err(ReadRefusal::TooLarge(buf.len() as u64));
    }
    Ok(buf)
}

/// Why [`read_regular`] refused.
pub(crate) enum ReadRefusal {
    Io(std::io::Error),
    NotRegular,
    TooLarge(u64),
}

/// Where the `files` of context packs are read from.
#[derive(Clone, Copy)]
pub enum PackFiles<'a> {
    /// The atlas directory.
    Dir(&'a Path),
    /// An atlas directory given as its files' text ([`super::load::manifest_from_files`]).
    Map(&'a serde_json::Map<String, serde_json::Value>),
}

/// The refusal of a context file of `n` bytes when `limit` is what is left for it.
fn too_large(rel: &str, n: u64, limit: u64) -> Option<(&'static str, String)> {
    if n <= limit {
        return None;
    }
    Some(if limit < MAX_PACK_FILE_BYTES {
        (
            "file_too_large",
            format!("context file {rel:?} ({n} bytes) takes the atlas's context files past {MAX_PACK_FILES_TOTAL_BYTES} bytes in total"),
        )
    } else {
        (
            "file_too_large",
            format!("context file {rel:?} is {n} bytes; the limit is {MAX_PACK_FILE_BYTES}"),
        )
    })
}

/// Reads one context file of a pack. Errors are `(problem code, message)`.
pub(crate) fn read_pack_file(
    base: Option<PackFiles<'_>>,
    rel: &str,
    total_left: u64,
) -> std::result::Result<String, (&'static str, String)> {
    let Some(base) = base else {
        return Err((
            "files_need_directory",
            format!(
                "context file {rel:?} can only be read when the atlas is loaded from a directory"
            ),
        ));
    };
    let rel_path = Path::new(rel);
    let escapes = rel.is_empty()
        || rel_path.is_absolute()
        || rel_path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if escapes {
        return Err((
            "path_escape",
            format!("context file {rel:?} must be a relative path inside the atlas directory"),
        ));
    }
    let limit = MAX_PACK_FILE_BYTES.min(total_left);
    let base = match base {
        PackFiles::Dir(base) => base,
        PackFiles::Map(m) => {
            let key: Vec<&str> = rel
                .split('/')
                .filter(|c| !c.is_empty() && *c != ".")
                .collect();
            let Some(text) = m.get(&key.join("/")).and_then(|v| v.as_str()) else {
                return Err((
                    "file_not_found",
                    format!("context file {rel:?} does not exist in the atlas directory"),
                ));
            };
            return match too_large(rel, text.len() as u64, limit) {
                Some(e) => Err(e),
                None => Ok(text.to_string()),
            };
        }
    };
    let full: PathBuf = base.join(rel_path);
    // Resolve symlinks and check the real path is still under the real base.
    let (Ok(real_base), Ok(real)) = (base.canonicalize(), full.canonicalize()) else {
        return Err((
            "file_not_found",
            format!("context file {rel:?} does not exist in the atlas directory"),
        ));
    };
    if !real.starts_with(&real_base) {
        return Err((
            "path_escape",
            format!("context file {rel:?} resolves outside the atlas directory"),
        ));
    }
    let bytes = read_regular(&real, limit).map_err(|r| match r {
        ReadRefusal::Io(e) => ("io_error", format!("cannot read context file {rel:?}: {e}")),
        ReadRefusal::NotRegular => (
            "file_not_found",
            format!("context file {rel:?} is not a regular file"),
        ),
        ReadRefusal::TooLarge(n) => {
            too_large(rel, n, limit).unwrap_or(("file_too_large", String::new()))
        }
    })?;
    String::from_utf8(bytes).map_err(|_| {
        (
            "invalid_utf8",
            format!("context file {rel:?} is not UTF-8 text"),
        )
    })
}
