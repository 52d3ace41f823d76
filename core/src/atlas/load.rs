//! Reading atlases from JSON text or from a directory holding `atlas.json`.

use super::model::AtlasManifest;
use super::validate::validate;
use crate::error::{CraError, ErrorCode, Problem, Result};
use std::path::{Component, Path, PathBuf};

/// Largest atlas document accepted (bytes).
pub const MAX_ATLAS_BYTES: usize = 16 * 1024 * 1024;
/// Largest context file accepted (bytes).
pub const MAX_PACK_FILE_BYTES: u64 = 4 * 1024 * 1024;

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
    let bytes = std::fs::read(&file).map_err(|e| {
        CraError::new(
            ErrorCode::IoError,
            format!("cannot read atlas {}: {}", file.display(), e),
        )
    })?;
    manifest_from_bytes(&bytes, Some(&dir))
}

fn manifest_from_bytes(bytes: &[u8], dir: Option<&Path>) -> Result<AtlasManifest> {
    if bytes.len() > MAX_ATLAS_BYTES {
        return Err(CraError::at(
            ErrorCode::InvalidAtlas,
            "",
            format!(
                "atlas is {} bytes; the limit is {MAX_ATLAS_BYTES}",
                bytes.len()
            ),
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
    let meta = std::fs::metadata(&real)
        .map_err(|e| ("io_error", format!("cannot read context file {rel:?}: {e}")))?;
    if !meta.is_file() {
        return Err((
            "file_not_found",
            format!("context file {rel:?} is not a regular file"),
        ));
    }
    if meta.len() > MAX_PACK_FILE_BYTES {
        return Err((
            "file_too_large",
            format!(
                "context file {rel:?} is {} bytes; the limit is {MAX_PACK_FILE_BYTES}",
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(&real)
        .map_err(|e| ("io_error", format!("cannot read context file {rel:?}: {e}")))?;
    String::from_utf8(bytes).map_err(|_| {
        (
            "invalid_utf8",
            format!("context file {rel:?} is not UTF-8 text"),
        )
    })
}
