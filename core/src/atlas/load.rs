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

/// Where the `files` of context packs are read from.
#[derive(Clone, Copy)]
pub enum PackFiles<'a> {
    /// The atlas directory.
    Dir(&'a Path),
    /// An atlas directory given as its files' text ([`manifest_from_files`]).
    Map(&'a serde_json::Map<String, serde_json::Value>),
}

/// Parses and validates an atlas from JSON text (pack `files` are refused: they need a directory).
pub fn manifest_from_json(bytes: &[u8]) -> Result<AtlasManifest> {
    manifest_from_bytes(bytes, None)
}

/// Reads an atlas directory given as a JSON object of its files' text, keyed by their path in
/// the directory (`/` separators, no `.` or `..` steps): `atlas.json` and the packs' context
/// files, for hosts without a file system (WASM). The same checks and answers as
/// [`manifest_from_dir`], except that nothing can escape a map: a missing file is
/// `file_not_found`.
pub fn manifest_from_files(files: &[u8]) -> Result<AtlasManifest> {
    // A plain value parse (the one atlas text goes through), not a typed one: less code in WASM.
    crate::protocol::strict::guard(files)?;
    let doc: serde_json::Value = serde_json::from_slice(files)
        .map_err(|e| CraError::request("", format!("the files are not valid JSON: {e}")))?;
    let Some(m) = doc.as_object() else {
        return Err(CraError::request(
            "",
            format!(
                "the files must be an object, not {}",
                crate::atlas::walk::type_name(&doc)
            ),
        ));
    };
    if let Some((k, v)) = m.iter().find(|(_, v)| !v.is_string()) {
        return Err(CraError::request(
            format!("/{}", crate::error::pointer_token(k)),
            format!(
                "a file's text must be a string, not {}",
                crate::atlas::walk::type_name(v)
            ),
        ));
    }
    let Some(atlas) = m.get("atlas.json").and_then(|v| v.as_str()) else {
        return Err(CraError::new(
            ErrorCode::IoError,
            "cannot read atlas atlas.json: it is not among the files",
        ));
    };
    if atlas.len() > MAX_ATLAS_BYTES {
        return Err(CraError::at(
            ErrorCode::LimitExceeded,
            "",
            format!(
                "atlas atlas.json is {} bytes or more; the limit is {MAX_ATLAS_BYTES}",
                atlas.len()
            ),
        ));
    }
    manifest_from_bytes(atlas.as_bytes(), Some(PackFiles::Map(m)))
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
    manifest_from_bytes(&bytes, Some(PackFiles::Dir(&dir)))
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

fn manifest_from_bytes(bytes: &[u8], dir: Option<PackFiles<'_>>) -> Result<AtlasManifest> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// The example atlas directory as the files object of [`manifest_from_files`].
    fn files_of(dir: &Path) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        let text = std::fs::read_to_string(dir.join("atlas.json")).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        m.insert("atlas.json".into(), json!(text));
        for p in doc["context_packs"].as_array().unwrap() {
            for f in p["files"].as_array().into_iter().flatten() {
                let f = f.as_str().unwrap();
                m.insert(
                    f.into(),
                    json!(std::fs::read_to_string(dir.join(f)).unwrap()),
                );
            }
        }
        m
    }

    fn dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/atlases/customer-support")
    }

    #[test]
    fn files_give_the_manifest_the_directory_gives() {
        let m = files_of(&dir());
        assert!(m.len() > 2, "the example has context files");
        let bytes = serde_json::to_vec(&m).unwrap();
        assert_eq!(
            manifest_from_files(&bytes).unwrap(),
            manifest_from_dir(&dir()).unwrap()
        );
    }

    #[test]
    fn missing_escaping_and_oversized_files_are_refused() {
        let m = files_of(&dir());
        let problems = |m: &serde_json::Map<String, Value>| {
            let e = manifest_from_files(&serde_json::to_vec(m).unwrap()).unwrap_err();
            (e.code, e.details.iter().map(|p| p.code).collect::<Vec<_>>())
        };
        let (key, _) = m.iter().find(|(k, _)| *k != "atlas.json").unwrap();
        let mut gone = m.clone();
        gone.remove(&key.clone());
        assert_eq!(
            problems(&gone),
            (ErrorCode::InvalidAtlas, vec!["file_not_found"])
        );

        let mut big = m.clone();
        big.insert(
            key.clone(),
            json!("x".repeat(MAX_PACK_FILE_BYTES as usize + 1)),
        );
        assert_eq!(
            problems(&big),
            (ErrorCode::InvalidAtlas, vec!["file_too_large"])
        );

        let mut doc: Value = serde_json::from_str(m["atlas.json"].as_str().unwrap()).unwrap();
        doc["context_packs"][0]["files"] = json!(["../outside.md"]);
        let mut escape = m.clone();
        escape.insert("atlas.json".into(), json!(doc.to_string()));
        escape.insert("../outside.md".into(), json!("secret"));
        assert_eq!(
            problems(&escape),
            (ErrorCode::InvalidAtlas, vec!["path_escape"])
        );

        let mut no_atlas = m.clone();
        no_atlas.remove("atlas.json");
        assert_eq!(
            manifest_from_files(&serde_json::to_vec(&no_atlas).unwrap())
                .unwrap_err()
                .code,
            ErrorCode::IoError
        );
        let e = manifest_from_files(br#"{"atlas.json": 1}"#).unwrap_err();
        assert_eq!(
            (e.code, e.pointer.as_deref()),
            (ErrorCode::InvalidRequest, Some("/atlas.json"))
        );
        assert_eq!(
            manifest_from_files(b"[]").unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }
}
