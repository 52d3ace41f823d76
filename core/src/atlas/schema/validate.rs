//! Validation: walks the compiled nodes over the instance. The success path allocates
//! nothing; the error path builds the pointer while unwinding, and subschemas that are only
//! probed (`anyOf`, `not`, `if`, ...) fail without building a message.

use super::{Id, Keywords, Node, Schema, MAX_DEPTH, MAX_STEPS, TYPES};
use serde_json::{Map, Value};
use std::cell::Cell;

/// A failure: the message and the instance path, innermost segment first.
struct Fail {
    rev_path: Vec<String>,
    msg: String,
}

type Res = Result<(), Box<Fail>>;

pub(super) fn validate(s: &Schema, v: &Value) -> Result<(), (String, String)> {
    let cx = Cx {
        s,
        steps: Cell::new(0),
    };
    cx.node(0, v, 0, true).map_err(|f| {
        let mut path = String::new();
        for seg in f.rev_path.iter().rev() {
            path.push('/');
            path.push_str(&seg.replace('~', "~0").replace('/', "~1"));
        }
        (path, f.msg)
    })
}

struct Cx<'a> {
    s: &'a Schema,
    steps: Cell<u32>,
}

/// Builds a failure; `loud` false (a probe) skips formatting the message.
fn fail(loud: bool, msg: impl FnOnce() -> String) -> Res {
    Err(Box::new(Fail {
        rev_path: Vec::new(),
        msg: if loud { msg() } else { String::new() },
    }))
}

/// Adds a path segment to a failure coming out of a child.
fn at(r: Res, seg: impl FnOnce() -> String) -> Res {
    r.map_err(|mut f| {
        f.rev_path.push(seg());
        f
    })
}

impl Cx<'_> {
    fn node(&self, id: Id, v: &Value, depth: u32, loud: bool) -> Res {
        let steps = self.steps.get() + 1;
        self.steps.set(steps);
        if depth > MAX_DEPTH || steps > MAX_STEPS {
            return fail(loud, || {
                format!("the schema nests deeper than {MAX_DEPTH} levels or needs more than {MAX_STEPS} steps here (a reference cycle?)")
            });
        }
        match &self.s.nodes[id as usize] {
            Node::Bool(true) => Ok(()),
            Node::Bool(false) => fail(loud, || "no value is allowed here".into()),
            Node::Keywords(k) => self.keywords(k, v, depth + 1, loud),
        }
    }

    /// Whether `v` is valid under `id` (a probe: no message).
    fn passes(&self, id: Id, v: &Value, depth: u32) -> bool {
        self.node(id, v, depth, false).is_ok()
    }

    fn keywords(&self, k: &Keywords, v: &Value, d: u32, loud: bool) -> Res {
        if let Some(r) = k.ref_ {
            self.node(r, v, d, loud)?;
        }
        if let Some(bits) = k.types {
            if bits & type_bits(v) == 0 {
                return fail(loud, || {
                    let names: Vec<&str> = TYPES
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| bits & (1 << i) != 0)
                        .map(|(_, t)| *t)
                        .collect();
                    format!("{} is not of type {}", short(v), names.join(" or "))
                });
            }
        }
        if let Some(options) = &k.enum_ {
            if !options.iter().any(|o| json_eq(o, v)) {
                return fail(loud, || {
                    format!(
                        "{} is not one of {}",
                        short(v),
                        Value::Array(options.clone())
                    )
                });
            }
        }
        if let Some(c) = &k.const_ {
            if !json_eq(c, v) {
                return fail(loud, || format!("{} is not {c}", short(v)));
            }
        }
        match v {
            Value::Number(n) => numbers(k, n.as_f64().unwrap_or(f64::NAN), v, loud)?,
            Value::String(s) => self.string(k, s, v, loud)?,
            Value::Object(o) => self.object(k, v, o, d, loud)?,
            Value::Array(a) => self.array(k, a, d, loud)?,
            _ => {}
        }
        self.combinators(k, v, d, loud)
    }

    fn string(&self, k: &Keywords, s: &str, v: &Value, loud: bool) -> Res {
        if k.min_length.is_some() || k.max_length.is_some() {
            let len = s.chars().count() as u64;
            if let Some(min) = k.min_length.filter(|m| len < *m) {
                return fail(loud, || {
                    format!("{} is shorter than {min} characters", short(v))
                });
            }
            if let Some(max) = k.max_length.filter(|m| len > *m) {
                return fail(loud, || {
                    format!("{} is longer than {max} characters", short(v))
                });
            }
        }
        if let Some((re, src)) = &k.pattern {
            if !self.s.regexes[*re].is_match(s) {
                return fail(loud, || format!("{} does not match {src:?}", short(v)));
            }
        }
        if let Some(f) = k.format {
            if !f.check(s) {
                return fail(loud, || format!("{} is not a valid {}", short(v), f.name()));
            }
        }
        Ok(())
    }

    fn object(&self, k: &Keywords, v: &Value, o: &Map<String, Value>, d: u32, loud: bool) -> Res {
        if let Some(missing) = k.required.iter().find(|r| !o.contains_key(r.as_str())) {
            return fail(loud, || format!("{missing:?} is a required property"));
        }
        for (key, needs) in k.dependent_required.iter() {
            if o.contains_key(key.as_str()) {
                if let Some(n) = needs.iter().find(|n| !o.contains_key(n.as_str())) {
                    return fail(loud, || {
                        format!("{n:?} is required when {key:?} is present")
                    });
                }
            }
        }
        let len = o.len() as u64;
        if let Some(min) = k.min_properties.filter(|m| len < *m) {
            return fail(loud, || {
                format!("the object has fewer than {min} properties")
            });
        }
        if let Some(max) = k.max_properties.filter(|m| len > *m) {
            return fail(loud, || {
                format!("the object has more than {max} properties")
            });
        }
        let per_key = !k.properties.is_empty()
            || !k.pattern_properties.is_empty()
            || k.additional_properties.is_some()
            || k.property_names.is_some();
        if per_key {
            for (key, val) in o {
                self.property(k, key, val, d, loud)?;
            }
        }
        for (key, s) in k.dependent_schemas.iter() {
            if o.contains_key(key.as_str()) {
                self.node(*s, v, d, loud)?;
            }
        }
        Ok(())
    }

    fn property(&self, k: &Keywords, key: &str, val: &Value, d: u32, loud: bool) -> Res {
        if let Some(names) = k.property_names {
            let name = Value::String(key.to_string());
            self.node(names, &name, d, loud).map_err(|mut f| {
                if loud {
                    f.msg = format!("property name {key:?}: {}", f.msg);
                }
                f
            })?;
        }
        let mut applied = false;
        if let Some((_, s)) = k.properties.iter().find(|(n, _)| n == key) {
            applied = true;
            at(self.node(*s, val, d, loud), || key.to_string())?;
        }
        for (re, s) in k.pattern_properties.iter() {
            if self.s.regexes[*re].is_match(key) {
                applied = true;
                at(self.node(*s, val, d, loud), || key.to_string())?;
            }
        }
        if !applied {
            if let Some(extra) = k.additional_properties {
                if matches!(self.s.nodes[extra as usize], Node::Bool(false)) {
                    return at(
                        fail(loud, || {
                            format!("additional property {key:?} is not allowed")
                        }),
                        || key.to_string(),
                    );
                }
                at(self.node(extra, val, d, loud), || key.to_string())?;
            }
        }
        Ok(())
    }

    fn array(&self, k: &Keywords, a: &[Value], d: u32, loud: bool) -> Res {
        let len = a.len() as u64;
        if let Some(min) = k.min_items.filter(|m| len < *m) {
            return fail(loud, || format!("the array has fewer than {min} items"));
        }
        if let Some(max) = k.max_items.filter(|m| len > *m) {
            return fail(loud, || format!("the array has more than {max} items"));
        }
        if k.unique_items {
            for (i, x) in a.iter().enumerate() {
                if a[..i].iter().any(|y| json_eq(x, y)) {
                    return fail(loud, || {
                        format!("the array has a repeated item {}", short(x))
                    });
                }
            }
        }
        for (i, item) in a.iter().enumerate() {
            let sub = match k.prefix_items.get(i) {
                Some(s) => *s,
                None => match k.items {
                    Some(s) => s,
                    None => break,
                },
            };
            at(self.node(sub, item, d, loud), || i.to_string())?;
        }
        if let Some(c) = k.contains {
            let n = a.iter().filter(|x| self.passes(c, x, d)).count() as u64;
            let min = k.min_contains.unwrap_or(1);
            if n < min {
                return fail(loud, || {
                    format!("the array has {n} items matching contains, fewer than {min}")
                });
            }
            if let Some(max) = k.max_contains.filter(|m| n > *m) {
                return fail(loud, || {
                    format!("the array has {n} items matching contains, more than {max}")
                });
            }
        }
        Ok(())
    }

    fn combinators(&self, k: &Keywords, v: &Value, d: u32, loud: bool) -> Res {
        for s in k.all_of.iter() {
            self.node(*s, v, d, loud)?;
        }
        if !k.any_of.is_empty() && !k.any_of.iter().any(|s| self.passes(*s, v, d)) {
            return fail(loud, || {
                format!("{} is not valid under any of the given schemas", short(v))
            });
        }
        if !k.one_of.is_empty() {
            let n = k.one_of.iter().filter(|s| self.passes(**s, v, d)).count();
            if n != 1 {
                return fail(loud, || {
                    format!(
                        "{} is valid under {n} of the given schemas, not exactly one",
                        short(v)
                    )
                });
            }
        }
        if let Some(not) = k.not {
            if self.passes(not, v, d) {
                return fail(loud, || {
                    format!("{} must not be valid under the \"not\" schema", short(v))
                });
            }
        }
        if let Some(cond) = k.if_ {
            let branch = if self.passes(cond, v, d) {
                k.then
            } else {
                k.else_
            };
            if let Some(b) = branch {
                self.node(b, v, d, loud)?;
            }
        }
        Ok(())
    }
}

/// The [`TYPES`] bits `v` has: one, plus "integer" for a number with a zero fractional part
/// (`1.0` included).
fn type_bits(v: &Value) -> u8 {
    match v {
        Value::Null => 1,
        Value::Bool(_) => 1 << 1,
        Value::Object(_) => 1 << 2,
        Value::Array(_) => 1 << 3,
        Value::String(_) => 1 << 5,
        Value::Number(n) => {
            let integral = n.is_i64()
                || n.is_u64()
                || n.as_f64()
                    .is_some_and(|x| x.is_finite() && x.fract() == 0.0);
            (1 << 4) | if integral { 1 << 6 } else { 0 }
        }
    }
}

fn numbers(k: &Keywords, x: f64, v: &Value, loud: bool) -> Res {
    let fail_at = |what: &str, b: f64| fail(loud, || format!("{} is {what} {b}", short(v)));
    if let Some(b) = k.minimum.filter(|b| x < *b) {
        return fail_at("less than the minimum of", b);
    }
    if let Some(b) = k.maximum.filter(|b| x > *b) {
        return fail_at("greater than the maximum of", b);
    }
    if let Some(b) = k.exclusive_minimum.filter(|b| x <= *b) {
        return fail_at("not greater than", b);
    }
    if let Some(b) = k.exclusive_maximum.filter(|b| x >= *b) {
        return fail_at("not less than", b);
    }
    if let Some(m) = k.multiple_of {
        if !is_multiple(x, m) {
            return fail_at("not a multiple of", m);
        }
    }
    Ok(())
}

/// `x` is an integer multiple of `m`, up to the rounding of `x` and `m` in binary (`19.99` is
/// a multiple of `0.01`): the exact remainder is within a few ulps of 0 or of `m`. A quotient
/// that overflows (`1e308 / 0.123`) is not a multiple.
fn is_multiple(x: f64, m: f64) -> bool {
    if !(x / m).is_finite() {
        return false;
    }
    let r = (x % m).abs();
    let tol = 4.0 * f64::EPSILON * x.abs().max(m);
    r <= tol || m - r <= tol
}

/// JSON equality with numbers compared by value (`1` equals `1.0`).
pub(super) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(i), Some(j)) => i == j,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, p)| y.get(k).is_some_and(|q| json_eq(p, q)))
        }
        _ => a == b,
    }
}

/// The value for a message, cut to 80 characters.
fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s,
    }
}
