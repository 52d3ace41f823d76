//! Reading atlases from JSON text or from a directory holding `atlas.json`.

use super::files::{read_regular, ReadRefusal};
pub(crate) use super::files::{PackFiles, MAX_ATLAS_BYTES};
use super::model::AtlasManifest;
use super::validate::validate;
use crate::error::{CraError, ErrorCode, Problem, Result};
use std::path::Path;

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
    let (dir, bytes) = read_atlas_file(path)?;
    manifest_from_bytes(&bytes, Some(PackFiles::Dir(&dir)))
}

/// The atlas directory (`path` itself, or the folder of an `atlas.json` path) and the bytes of
/// its `atlas.json`, read with the loader's bound.
fn read_atlas_file(path: &Path) -> Result<(std::path::PathBuf, Vec<u8>)> {
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
    Ok((dir, bytes))
}

/// The atlas of a directory as one self-contained JSON document (what a service that never
/// reads client paths takes, e.g. the ingest's `POST /v1/replay`): `atlas.json` as written, each
/// context pack's `files` replaced by their texts as `content` (joined by a blank line, the
/// first file's content type unless the pack names one). Everything is read once and checked by
/// the loader itself (as [`manifest_from_dir`]): a directory that would not load gives its error.
pub fn document_from_dir(path: &Path) -> Result<serde_json::Value> {
    // One read of `atlas.json`: the document is built from the very bytes the loader validated.
    let (dir, bytes) = read_atlas_file(path)?;
    let manifest = manifest_from_bytes(&bytes, Some(PackFiles::Dir(&dir)))?;
    let mut doc: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| CraError::new(ErrorCode::Internal, format!("validated atlas bytes: {e}")))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use std::path::PathBuf;

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
            json!("x".repeat(crate::atlas::MAX_PACK_FILE_BYTES as usize + 1)),
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
