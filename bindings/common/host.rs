//! What the Node addon and the WASM build share (each includes this file with `#[path]`):
//! the configuration defaults of a JavaScript host, the binding-level option
//! `trace.memory_limit_bytes`, error envelopes with capped echoes of input values, and the
//! release of a resolver that does not wait for room in a full memory sink.

use cra_core::{CraError, ErrorCode, Resolver};
use serde_json::{Map, Value};

/// Defaults a binding fills into `trace` when the configuration does not set them.
pub struct HostDefaults {
    /// `trace.capacity`: queue slots (preallocated per resolver).
    pub capacity: u32,
    /// `trace.block_timeout_ms`: the longest a call waits for room in `block` mode.
    pub block_timeout_ms: u32,
    /// `trace.memory_limit_bytes`: bytes the memory sink holds at most.
    pub memory_limit_bytes: u64,
    /// `trace.batch_size`, when the binding wants another than the core's (the processor
    /// preallocates about 400 bytes per slot of a batch).
    pub batch_size: Option<u32>,
}

/// Largest `trace.memory_limit_bytes` accepted (1 TiB).
pub const MAX_MEMORY_LIMIT_BYTES: u64 = 1 << 40;

/// The configuration to give the core, and the binding-level options taken out of it.
pub struct Prepared {
    /// Configuration JSON for `cra_core::api::create`.
    pub config: Vec<u8>,
    /// The memory sink's byte bound.
    pub memory_limit_bytes: u64,
}

fn config_error(pointer: &str, message: String) -> CraError {
    CraError::at(ErrorCode::InvalidConfig, pointer, message)
}

/// Fills the host defaults into `trace` and takes out `trace.memory_limit_bytes`. Text that is
/// not a JSON object (or whose `trace` is not one) goes to the core unchanged, which reports it.
/// Duplicate keys and out-of-range integers are refused first, as the core would.
pub fn prepare_config(text: &[u8], d: &HostDefaults) -> Result<Prepared, CraError> {
    let unchanged = || Prepared {
        config: text.to_vec(),
        memory_limit_bytes: d.memory_limit_bytes,
    };
    let mut root: Value = if text.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        cra_core::unstable::strict::guard(text).map_err(|mut e| {
            e.code = ErrorCode::InvalidConfig;
            e
        })?;
        match serde_json::from_slice(text) {
            Ok(v) => v,
            Err(_) => return Ok(unchanged()),
        }
    };
    let Some(obj) = root.as_object_mut() else {
        return Ok(unchanged());
    };
    let trace = obj
        .entry("trace")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(t) = trace.as_object_mut() else {
        return Ok(unchanged());
    };
    let mut memory_limit_bytes = d.memory_limit_bytes;
    if let Some(v) = t.remove("memory_limit_bytes") {
        match v.as_u64() {
            Some(n) if (1..=MAX_MEMORY_LIMIT_BYTES).contains(&n) => memory_limit_bytes = n,
            _ => {
                return Err(config_error(
                    "/trace/memory_limit_bytes",
                    format!(
                        "memory_limit_bytes must be an integer between 1 and {MAX_MEMORY_LIMIT_BYTES}, got {}",
                        cap_value(&v.to_string())
                    ),
                ))
            }
        }
    }
    t.entry("capacity").or_insert(d.capacity.into());
    t.entry("block_timeout_ms")
        .or_insert(d.block_timeout_ms.into());
    if let Some(b) = d.batch_size {
        t.entry("batch_size").or_insert(b.into());
    }
    let config = serde_json::to_vec(&root)
        .map_err(|e| CraError::new(ErrorCode::Internal, format!("config: {e}")))?;
    Ok(Prepared {
        config,
        memory_limit_bytes,
    })
}

/// Applies the binding-level options to a new resolver.
pub fn apply(r: &Resolver, p: &Prepared) {
    if let Some(m) = r.collector().and_then(|c| c.memory_sink()) {
        m.set_limit_bytes(p.memory_limit_bytes);
    }
}

/// Closes a resolver's trace collector promptly (its thread ends now), before the resolver is
/// dropped. Events not yet drained from its memory sink go with it (the host drains before
/// freeing): the sink discards from here on, so the collector's closing flush completes at
/// once instead of waiting for room that only a drain would make.
pub fn release(r: &Resolver) {
    if let Some(m) = r.collector().and_then(|c| c.memory_sink()) {
        m.discard();
    }
    let _ = r.close();
}

/// `stats().memory`: what the resolver's trace buffers hold and may hold, plus (WASM) the size
/// of the module's linear memory, which every resolver of the instance shares and which never
/// shrinks.
pub fn memory_stats(r: &Resolver, wasm_memory_bytes: Option<u64>) -> Value {
    let mut m = Map::new();
    let sink = r.collector().and_then(|c| c.memory_sink());
    let num = |v: Option<u64>| v.map_or(Value::Null, Value::from);
    m.insert(
        "trace_buffer_bytes".into(),
        num(sink.map(|s| s.held_bytes())),
    );
    m.insert("trace_buffer_events".into(), num(sink.map(|s| s.len())));
    m.insert(
        "trace_buffer_limit_bytes".into(),
        num(sink.map(|s| s.limit_bytes())),
    );
    m.insert(
        "trace_buffer_limit_events".into(),
        num(sink.map(|s| s.limit_events())),
    );
    m.insert(
        "trace_queue_capacity".into(),
        r.config().trace.capacity.into(),
    );
    if let Some(w) = wasm_memory_bytes {
        m.insert("wasm_memory_bytes".into(), w.into());
    }
    Value::Object(m)
}

/// Longest echo of an input value in an error message, in characters.
pub const MAX_ECHO_CHARS: usize = 200;
/// Longest error message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;

fn cap_value(s: &str) -> String {
    cap_message(s)
}

/// Caps every quoted run (`"…"` with backslash escapes, or `` `…` ``) of `msg` to
/// [`MAX_ECHO_CHARS`] characters (noting how many were left out), and the whole message to
/// [`MAX_MESSAGE_CHARS`].
pub fn cap_message(msg: &str) -> String {
    let chars: Vec<char> = msg.chars().collect();
    let mut out = String::with_capacity(msg.len().min(4 * MAX_MESSAGE_CHARS));
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '`' {
            // Find the closing delimiter (a backslash escapes the next char inside "…").
            let mut j = i + 1;
            while j < chars.len() && chars[j] != c {
                if c == '"' && chars[j] == '\\' {
                    j += 1;
                }
                j += 1;
            }
            let inner = &chars[i + 1..j.min(chars.len())];
            out.push(c);
            if inner.len() > MAX_ECHO_CHARS {
                let mut keep = MAX_ECHO_CHARS;
                // Do not end on a lone backslash (half an escape).
                if inner[..keep]
                    .iter()
                    .rev()
                    .take_while(|&&x| x == '\\')
                    .count()
                    % 2
                    == 1
                {
                    keep -= 1;
                }
                out.extend(&inner[..keep]);
                out.push('…');
                if j < chars.len() {
                    out.push(c);
                }
                out.push_str(&format!(" ({} more characters)", inner.len() - keep));
            } else {
                out.extend(inner);
                if j < chars.len() {
                    out.push(c);
                }
            }
            i = j + 1;
        } else {
            out.push(c);
            i += 1;
        }
        if out.len() > 4 * MAX_MESSAGE_CHARS {
            break;
        }
    }
    if out.chars().count() > MAX_MESSAGE_CHARS {
        out = out.chars().take(MAX_MESSAGE_CHARS).collect();
        out.push('…');
    }
    out
}

/// The error envelope JSON (`{"code", "message", "pointer"?, "details"?}`) with capped echoes.
pub fn envelope(e: &CraError) -> String {
    let mut v = e.to_json();
    cap_field(&mut v, "message");
    cap_field(&mut v, "pointer");
    if let Some(Value::Array(details)) = v.get_mut("details") {
        for d in details {
            cap_field(d, "message");
            cap_field(d, "pointer");
        }
    }
    v.to_string()
}

fn cap_field(v: &mut Value, key: &str) {
    if let Some(Value::String(s)) = v.get_mut(key) {
        if s.len() > MAX_ECHO_CHARS {
            *s = if key == "pointer" {
                cap_pointer(s)
            } else {
                cap_message(s)
            };
        }
    }
}

/// Caps each reference token of a JSON pointer to [`MAX_ECHO_CHARS`] characters.
fn cap_pointer(p: &str) -> String {
    p.split('/')
        .map(|t| {
            if t.chars().count() > MAX_ECHO_CHARS {
                let mut s: String = t.chars().take(MAX_ECHO_CHARS).collect();
                s.push('…');
                s
            } else {
                t.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_quoted_runs() {
        let long = "x".repeat(500);
        let m = cap_message(&format!(
            "no atlas \"{long}\" is loaded; unknown field `{long}`"
        ));
        assert!(
            m.starts_with(&format!(
                "no atlas \"{}…\" (300 more characters)",
                "x".repeat(200)
            )),
            "{m}"
        );
        assert!(
            m.ends_with(&format!("`{}…` (300 more characters)", "x".repeat(200))),
            "{m}"
        );
        assert_eq!(cap_message("short \"ok\""), "short \"ok\"");
        let escaped = format!("\"{}\"", "\\\"".repeat(300));
        assert!(!cap_message(&escaped).contains("\\…"));
        assert!(cap_message(&"y".repeat(10_000)).chars().count() <= MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn defaults_fill_only_what_is_missing() {
        let d = HostDefaults {
            capacity: 8,
            block_timeout_ms: 7,
            memory_limit_bytes: 99,
            batch_size: None,
        };
        let p = prepare_config(b"", &d).expect("defaults");
        assert_eq!(
            String::from_utf8(p.config).unwrap(),
            r#"{"trace":{"capacity":8,"block_timeout_ms":7}}"#
        );
        let p = prepare_config(br#"{"trace":{"capacity":5,"memory_limit_bytes":1000}}"#, &d)
            .expect("valid");
        assert_eq!(p.memory_limit_bytes, 1000);
        assert!(String::from_utf8(p.config)
            .unwrap()
            .contains(r#""capacity":5"#));
        let e = prepare_config(br#"{"trace":{"memory_limit_bytes":0}}"#, &d)
            .err()
            .unwrap();
        assert_eq!(e.pointer.as_deref(), Some("/trace/memory_limit_bytes"));
        let e = prepare_config(br#"{"trace":{},"trace":{}}"#, &d)
            .err()
            .unwrap();
        assert_eq!(e.code, ErrorCode::InvalidConfig);
        assert_eq!(prepare_config(b"[1", &d).unwrap().config, b"[1");
    }
}
