//! Reading atlases from JSON text or from a directory holding `atlas.json`.

use super::model::AtlasManifest;
use super::validate::validate;
use crate::error::{CraError, ErrorCode, Problem, Result};
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
fn read_regular(path: &Path, limit: u64) -> std::result::Result<Vec<u8>, ReadRefusal> {
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
enum ReadRefusal {
    Io(std::io::Error),
    NotRegular,
    TooLarge(u64),
}

/// Parses and validates an atlas from JSON text (pack `files` are refused: they need a directory).
pub fn manifest_from_json(bytes: &[u8]) -> Result<AtlasManifest> {
    manifest_from_bytes(bytes, None)
}

/// Reads `dir/atlas.json` (or `dir` itself when it is a file) and validates it, reading context
/// files relative to the directory. A file path that escapes the directory is refused.
pub fn manifest_from_dir(path: &Path) -> Result<AtlasManifest> {
    let (dir, file) = if path.is_dir() {
        (path.to_path_buf(), path.join("atlas.json"))
    } else {
        (
            path.parent().map(Path::to_path_buf).unwrap_or_default(),
            path.to_path_buf(),
        )
    };
    let bytes = read_regular(&file, MAX_ATLAS_BYTES as u64).map_err(|r| match r {
        ReadRefusal::Io(e) => CraError::new(
            ErrorCode::IoError,
            format!("cannot read atlas {}: {}", file.display(), e),
        ),
        ReadRefusal::NotRegular => CraError::at(
            ErrorCode::InvalidAtlas,
            "",
            format!("atlas {} is not a regular file", file.display()),
        ),
        ReadRefusal::TooLarge(n) => CraError::at(
            ErrorCode::LimitExceeded,
            "",
            format!(
                "atlas {} is {n} bytes or more; the limit is {MAX_ATLAS_BYTES}",
                file.display()
            ),
        ),
    })?;
    manifest_from_bytes(&bytes, Some(&dir))
}

/// The atlas of a directory as one self-contained JSON document (what a service that never
/// reads client paths takes, e.g. the ingest's `POST /v1/replay`): `atlas.json` as written, each
/// context pack's `files` replaced by their texts as `content` (joined by a blank line, the
/// first file's content type unless the pack names one). Everything is read and checked by the
/// loader itself ([`manifest_from_dir`]): a directory that would not load gives its error.
pub fn document_from_dir(path: &Path) -> Result<serde_json::Value> {
    let manifest = manifest_from_dir(path)?;
    let file = if path.is_dir() {
        path.join("atlas.json")
    } else {
        path.to_path_buf()
    };
    let bytes = read_regular(&file, MAX_ATLAS_BYTES as u64).map_err(|_| {
        CraError::new(
            ErrorCode::IoError,
            format!("atlas {} changed while it was read", file.display()),
        )
    })?;
    let mut doc: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        CraError::new(
            ErrorCode::IoError,
            format!("atlas {} changed while it was read: {e}", file.display()),
        )
    })?;
    let packs = doc.get_mut("context_packs").and_then(|v| v.as_array_mut());
    for pack in packs.into_iter().flatten() {
        let Some(obj) = pack.as_object_mut() else {
            continue;
        };
        if obj.remove("files").is_none() {
            continue;
        }
        let id = obj.get("pack_id").and_then(|v| v.as_str()).unwrap_or("");
        let loaded = manifest.context_packs.iter().find(|p| p.pack_id == id);
        let blocks = loaded.map(|p| p.blocks.as_slice()).unwrap_or_default();
        let text: Vec<&str> = blocks.iter().map(|b| b.content.as_str()).collect();
        obj.insert("content".into(), text.join("\n\n").into());
        if !obj.contains_key("content_type") {
            let ct = blocks
                .first()
                .map_or("text/plain", |b| b.content_type.as_str());
            obj.insert("content_type".into(), ct.into());
        }
    }
    Ok(doc)
}

fn manifest_from_bytes(bytes: &[u8], dir: Option<&Path>) -> Result<AtlasManifest> {
    if bytes.len() > MAX_ATLAS_BYTES {
        return Err(CraError::at(
            ErrorCode::LimitExceeded,
            "",
            format!(
                "atlas is {} bytes; the limit is {MAX_ATLAS_BYTES}",
                bytes.len()
            ),
        ));
    }
    if let Err(g) = crate::protocol::json_guard::check(bytes) {
        let p = Problem {
            code: "invalid_json_value",
            message: g.message,
            pointer: g.pointer,
        };
        return Err(CraError::from_problems(
            ErrorCode::InvalidAtlas,
            "invalid atlas",
            vec![p],
        ));
    }
    let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        let p = Problem {
            code: "malformed_json",
            message: format!("atlas is not valid JSON: {e}"),
            pointer: String::new(),
        };
        CraError::from_problems(ErrorCode::InvalidAtlas, "invalid atlas", vec![p])
    })?;
    validate(&doc, dir).map_err(|problems| {
        let what = match doc.get("atlas_id").and_then(|v| v.as_str()) {
            Some(id) => format!("invalid atlas {id:?}"),
            None => "invalid atlas".to_string(),
        };
        CraError::from_problems(ErrorCode::InvalidAtlas, &what, problems)
    })
}

/// Reads one context file of a pack. Errors are `(problem code, message)`.
pub(crate) fn read_pack_file(
    base: Option<&Path>,
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
    let limit = MAX_PACK_FILE_BYTES.min(total_left);
    let bytes = read_regular(&real, limit).map_err(|r| match r {
        ReadRefusal::Io(e) => ("io_error", format!("cannot read context file {rel:?}: {e}")),
        ReadRefusal::NotRegular => (
            "file_not_found",
            format!("context file {rel:?} is not a regular file"),
        ),
        ReadRefusal::TooLarge(n) if limit < MAX_PACK_FILE_BYTES => (
            "file_too_large",
            format!("context file {rel:?} ({n} bytes) takes the atlas's context files past {MAX_PACK_FILES_TOTAL_BYTES} bytes in total"),
        ),
        ReadRefusal::TooLarge(n) => (
            "file_too_large",
            format!("context file {rel:?} is {n} bytes; the limit is {MAX_PACK_FILE_BYTES}"),
        ),
    })?;
    String::from_utf8(bytes).map_err(|_| {
        (
            "invalid_utf8",
            format!("context file {rel:?} is not UTF-8 text"),
        )
    })
}
