//! Strict serde parsing that turns serde's errors into `INVALID_REQUEST` with a JSON pointer.

use crate::error::{pointer_token, CraError, ErrorCode, Result};
use serde::de::DeserializeOwned;

/// Refuses duplicate keys and integers beyond ±2^53 (`protocol::json_guard`) as
/// `INVALID_REQUEST` with the pointer of the offending value.
pub fn guard(bytes: &[u8]) -> Result<()> {
    super::json_guard::check(bytes).map_err(|e| CraError::request(e.pointer, e.message))
}

/// Parses JSON bytes into `T`, reporting the pointer of the first offending value.
/// Duplicate keys and integers beyond ±2^53 are refused ([`guard`]).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    guard(bytes)?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let out: T = serde_path_to_error::deserialize(&mut de).map_err(convert)?;
    de.end().map_err(|e| {
        CraError::request(
            "",
            format!(
                "trailing characters after the JSON value at line {} column {}",
                e.line(),
                e.column()
            ),
        )
    })?;
    Ok(out)
}

/// Converts a JSON value into `T`, reporting the pointer of the first offending value.
pub fn from_value<T: DeserializeOwned>(v: serde_json::Value) -> Result<T> {
    serde_path_to_error::deserialize(v).map_err(convert)
}

/// Like [`from_slice`], but first requires the values at `objects` (JSON pointers; `""` is the
/// root) to be JSON objects when present. serde's derive would otherwise also read a struct
/// from an array by position, which a strict protocol must refuse.
///
/// Well-formed input whose top-level shape is plainly right is parsed in one pass straight into
/// `T`; anything else (including every error) goes through a JSON value first, for the checks
/// and the pointer. Both paths accept exactly the same documents.
pub fn from_slice_objects<T: DeserializeOwned>(bytes: &[u8], objects: &[&str]) -> Result<T> {
    guard(bytes)?;
    #[cfg(feature = "fast-parse")]
    if super::shape::no_array_at(bytes, objects) {
        if let Ok(out) = serde_json::from_slice::<T>(bytes) {
            return Ok(out);
        }
    }
    let v: serde_json::Value = from_slice(bytes)?;
    from_value_objects(v, objects)
}

/// [`from_value`] with the object checks of [`from_slice_objects`].
pub fn from_value_objects<T: DeserializeOwned>(
    v: serde_json::Value,
    objects: &[&str],
) -> Result<T> {
    for p in objects {
        if let Some(x) = v.pointer(p) {
            if !x.is_object() {
                let what = if p.is_empty() {
                    "the document".to_string()
                } else {
                    p.rsplit('/').next().unwrap_or(p).to_string()
                };
                return Err(CraError::request(
                    *p,
                    format!(
                        "{what} must be an object, not {}",
                        crate::atlas::walk::type_name(x)
                    ),
                ));
            }
        }
    }
    from_value(v)
}

fn convert(e: serde_path_to_error::Error<serde_json::Error>) -> CraError {
    let mut pointer = String::new();
    for seg in e.path().iter() {
        use serde_path_to_error::Segment;
        match seg {
            Segment::Map { key } | Segment::Enum { variant: key } => {
                pointer.push('/');
                pointer.push_str(&pointer_token(key));
            }
            Segment::Seq { index } => {
                pointer.push('/');
                pointer.push_str(&index.to_string());
            }
            Segment::Unknown => {}
        }
    }
    let inner = e.into_inner();
    let raw = inner.to_string();
    // serde's messages end with " at line L column C"; keep the useful front part.
    let msg = match raw.find(" at line ") {
        Some(i) if inner.line() > 0 => raw[..i].to_string(),
        _ => raw,
    };
    let msg = humanize(&msg);
    if inner.is_syntax() || inner.is_eof() {
        return CraError::at(
            ErrorCode::InvalidRequest,
            "",
            format!(
                "malformed JSON: {msg} (line {}, column {})",
                inner.line(),
                inner.column()
            ),
        );
    }
    CraError::request(pointer, msg)
}

/// Rewrites serde's wording so that messages name JSON types, not Rust ones.
fn humanize(msg: &str) -> String {
    msg.replace("a map", "an object")
        .replace("struct ", "object ")
        .replace("a sequence", "an array")
        .replace("u32", "a non-negative integer")
        .replace("u64", "a non-negative integer")
        .replace("a string or a Value", "a value")
}

#[cfg(test)]
mod tests {
    use crate::protocol::carp::CarpRequest;

    #[test]
    fn unknown_field_points_at_the_field() {
        let e = CarpRequest::from_json(
            br#"{"requester":{"agent_id":"a","session_id":"s","agnet":1},"task":{"goal":"g"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.code.as_str(), "INVALID_REQUEST");
        assert_eq!(e.pointer.as_deref(), Some("/requester/agnet"));
        assert!(e.message.contains("agnet"), "{}", e.message);
    }

    #[test]
    fn wrong_type_points_at_the_value() {
        let e = CarpRequest::from_json(br#"{"requester":{"agent_id":"a","session_id":"s"},"task":{"goal":"g","risk_tier":"extreme"}}"#).unwrap_err();
        assert_eq!(e.pointer.as_deref(), Some("/task/risk_tier"));
        assert!(e.message.contains("extreme"), "{}", e.message);
    }

    #[test]
    fn syntax_error_is_invalid_request() {
        let e = CarpRequest::from_json(b"{not json").unwrap_err();
        assert_eq!(e.code.as_str(), "INVALID_REQUEST");
        assert!(e.message.contains("malformed JSON"));
    }

    #[test]
    fn the_one_pass_path_and_the_value_path_agree() {
        use super::{from_slice, from_slice_objects, from_value_objects};
        const OBJ: &[&str] = &["", "/requester", "/task", "/execution", "/context"];
        for doc in [
            r#"{"requester":{"agent_id":"a","session_id":"s"},"task":{"goal":"g","required_capabilities":["c"]}}"#,
            r#"{"requester":{"agent_id":"a","session_id":"s"},"task":{"goal":"g"},"context":{"k":[1,{"x":"]"}]}}"#,
            r#"{"requester":{"agent_id":"a","session_id":"s"},"task":{"goal":"g"},"task":{"goal":"h"}}"#,
            r#"{"requester":["a","s"],"task":{"goal":"g"}}"#,
            r#"{"requester":{"agent_id":"a","session_id":"s"},"task":{"goal":"g","extra":1}}"#,
            r#"{"requester":{"agent_id":"a","session_id":"s"},"task":{"goal":"g"}} x"#,
        ] {
            let fast: crate::error::Result<CarpRequest> = from_slice_objects(doc.as_bytes(), OBJ);
            let slow = from_slice(doc.as_bytes()).and_then(|v| from_value_objects(v, OBJ));
            match (fast, slow) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{doc}"),
                (Err(a), Err(b)) => assert_eq!((a.code, a.pointer), (b.code, b.pointer), "{doc}"),
                (a, b) => panic!("{doc}: {a:?} vs {b:?}"),
            }
        }
    }

    #[test]
    fn missing_task_for_resolve() {
        let e = CarpRequest::from_json(br#"{"requester":{"agent_id":"a","session_id":"s"}}"#)
            .unwrap_err();
        assert_eq!(e.pointer.as_deref(), Some("/task"));
    }
}
