//! How an expected value matches an actual one (the corpus's normalisation rule).
//!
//! - objects: every expected key must be present in the actual object and match; extra actual
//!   keys are ignored (so cases state only what they are about);
//! - arrays: same length, element by element;
//! - scalars: equal (numbers compare as JSON numbers: `1` and `1.0` are equal).
//!
//! `expect_exact` steps compare with plain equality instead.

use serde_json::Value;

/// The first mismatch as `(json pointer, expected, actual)`, or `None` when `actual` matches.
pub fn mismatch(expected: &Value, actual: &Value, path: &str) -> Option<(String, Value, Value)> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                match a.get(k) {
                    Some(av) => {
                        if let Some(m) = mismatch(ev, av, &p) {
                            return Some(m);
                        }
                    }
                    None => return Some((p, ev.clone(), Value::String("<absent>".into()))),
                }
            }
            None
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Some((
                    format!("{path} (length)"),
                    Value::from(e.len()),
                    Value::from(a.len()),
                ));
            }
            e.iter()
                .zip(a)
                .enumerate()
                .find_map(|(i, (ev, av))| mismatch(ev, av, &format!("{path}/{i}")))
        }
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => None,
        (e, a) if e == a => None,
        (e, a) => Some((path.to_string(), e.clone(), a.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::mismatch;
    use serde_json::json;

    #[test]
    fn subset_semantics() {
        assert!(mismatch(&json!({"a": 1}), &json!({"a": 1, "b": 2}), "").is_none());
        assert_eq!(
            mismatch(&json!({"a": 1}), &json!({"a": 2}), "").unwrap().0,
            "/a"
        );
        assert!(mismatch(&json!([1, 2]), &json!([1, 2, 3]), "").is_some());
        assert!(mismatch(
            &json!({"x": [{"id": "a"}]}),
            &json!({"x": [{"id": "a", "n": 1}]}),
            ""
        )
        .is_none());
        assert!(mismatch(&json!({"m": 1}), &json!({}), "").is_some());
        assert!(mismatch(&json!(1.0), &json!(1), "").is_none());
    }
}
