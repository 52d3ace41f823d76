//! A small JSON walker that collects every problem with its pointer (used by atlas validation).

use crate::error::{pointer_token, Problem};
use serde_json::{Map, Value};

/// Collects problems while reading a JSON document.
#[derive(Debug, Default)]
pub struct Walker {
    /// Every problem found so far, in document order.
    pub problems: Vec<Problem>,
    /// Bytes of context files read so far (bounded by `MAX_PACK_FILES_TOTAL_BYTES`).
    pub pack_file_bytes: u64,
}

/// Appends a key to a pointer.
pub fn child(ptr: &str, key: &str) -> String {
    format!("{ptr}/{}", pointer_token(key))
}

/// Appends an index to a pointer.
pub fn index(ptr: &str, i: usize) -> String {
    format!("{ptr}/{i}")
}

/// JSON type name of a value, for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Walker {
    /// Records a problem.
    pub fn problem(&mut self, code: &'static str, pointer: &str, message: String) {
        self.problems.push(Problem {
            code,
            message,
            pointer: pointer.to_string(),
        });
    }

    /// Expects an object whose keys are all in `allowed`; reports the type and each unknown key.
    pub fn object<'v>(
        &mut self,
        v: &'v Value,
        ptr: &str,
        what: &str,
        allowed: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(m) = v.as_object() else {
            self.problem(
                "invalid_type",
                ptr,
                format!("{what} must be an object, not {}", type_name(v)),
            );
            return None;
        };
        for k in m.keys() {
            if !allowed.contains(&k.as_str()) {
                let hint = suggest(k, allowed)
                    .map(|s| format!("; did you mean {s:?}?"))
                    .unwrap_or_default();
                self.problem(
                    "unknown_field",
                    &child(ptr, k),
                    format!("unknown field {k:?} in {what}{hint}"),
                );
            }
        }
        Some(m)
    }

    /// A string field; `required` reports a missing one.
    pub fn string(
        &mut self,
        m: &Map<String, Value>,
        key: &str,
        ptr: &str,
        required: bool,
    ) -> Option<String> {
        match m.get(key) {
            None if required => {
                self.problem(
                    "missing_field",
                    ptr,
                    format!("missing required field {key:?}"),
                );
                None
            }
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => {
                self.problem(
                    "invalid_type",
                    &child(ptr, key),
                    format!("{key} must be a string, not {}", type_name(v)),
                );
                None
            }
        }
    }

    /// A boolean field (default false).
    pub fn boolean(&mut self, m: &Map<String, Value>, key: &str, ptr: &str) -> bool {
        match m.get(key) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                self.problem(
                    "invalid_type",
                    &child(ptr, key),
                    format!("{key} must be a boolean, not {}", type_name(v)),
                );
                false
            }
        }
    }

    /// An integer field within `[min, max]`.
    pub fn integer(
        &mut self,
        m: &Map<String, Value>,
        key: &str,
        ptr: &str,
        min: i64,
        max: i64,
        required: bool,
    ) -> Option<i64> {
        let p = child(ptr, key);
        match m.get(key) {
            None if required => {
                self.problem(
                    "missing_field",
                    ptr,
                    format!("missing required field {key:?}"),
                );
                None
            }
            None => None,
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) if i >= min && i <= max => Some(i),
                Some(i) => {
                    self.problem(
                        "out_of_range",
                        &p,
                        format!("{key} is {i}; it must be between {min} and {max}"),
                    );
                    None
                }
                None => {
                    self.problem(
                        "invalid_type",
                        &p,
                        format!("{key} must be an integer, not {n}"),
                    );
                    None
                }
            },
            Some(v) => {
                self.problem(
                    "invalid_type",
                    &p,
                    format!("{key} must be an integer, not {}", type_name(v)),
                );
                None
            }
        }
    }

    /// An array field; each element is passed to `each` with its pointer.
    pub fn array<'v>(
        &mut self,
        m: &'v Map<String, Value>,
        key: &str,
        ptr: &str,
    ) -> Option<(&'v Vec<Value>, String)> {
        let p = child(ptr, key);
        match m.get(key) {
            None => None,
            Some(Value::Array(a)) => Some((a, p)),
            Some(v) => {
                self.problem(
                    "invalid_type",
                    &p,
                    format!("{key} must be an array, not {}", type_name(v)),
                );
                None
            }
        }
    }

    /// An array of strings; non-strings are reported, `non_empty` reports an empty array.
    pub fn strings(
        &mut self,
        m: &Map<String, Value>,
        key: &str,
        ptr: &str,
        non_empty: bool,
    ) -> Option<Vec<String>> {
        let (arr, p) = self.array(m, key, ptr)?;
        if non_empty && arr.is_empty() {
            self.problem(
                "empty_list",
                &p,
                format!("{key} is empty, so it can never match; omit it instead"),
            );
        }
        let mut out = Vec::with_capacity(arr.len());
        for (i, v) in arr.iter().enumerate() {
            match v {
                Value::String(s) => out.push(s.clone()),
                other => self.problem(
                    "invalid_type",
                    &index(&p, i),
                    format!("{key} entries must be strings, not {}", type_name(other)),
                ),
            }
        }
        Some(out)
    }
}

/// The allowed key closest to `k` (edit distance ≤ 2), for "did you mean" hints.
fn suggest<'a>(k: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .copied()
        .map(|a| (edit_distance(k, a), a))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
