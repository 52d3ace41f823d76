//! A small JSON Schema (2020-12) validator for builds without the `json-schema` feature (the
//! WASM bundle, where the full validator and its regex engines would triple the module).
//!
//! It implements the keywords tool parameters use: `type`, `enum`, `const`, the numeric and
//! length bounds, `multipleOf`, `properties`, `required`, `additionalProperties`,
//! `minProperties`/`maxProperties`, `dependentRequired`, `pattern` and `patternProperties`
//! (with `regex-lite`: a pattern it cannot compile, such as a look-around, is refused),
//! `items`, `prefixItems`, `minItems`/`maxItems`, `uniqueItems`, `allOf`/`anyOf`/`oneOf`/`not`
//! and boolean schemas; annotations (`title`, `description`, `default`, ...) and unknown
//! keywords are ignored, as the specification says. A keyword it cannot enforce (`format`,
//! `$ref`, `if`, ...)
//! makes the schema **refused at atlas load**, never silently skipped: a policy author who
//! relies on it gets an error, not an unchecked tool call. Errors carry the JSON pointer of the
//! offending value inside the parameters, like the full validator.

use regex_lite::Regex;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Compiled `pattern`/`patternProperties` regexes by source.
type Patterns = HashMap<String, Regex>;

/// Keywords whose meaning this validator cannot enforce.
const UNSUPPORTED: &[&str] = &[
    "format",
    "$ref",
    "$dynamicRef",
    "$recursiveRef",
    "if",
    "then",
    "else",
    "contains",
    "minContains",
    "maxContains",
    "propertyNames",
    "dependentSchemas",
    "dependencies",
    "unevaluatedProperties",
    "unevaluatedItems",
];

const TYPES: &[&str] = &[
    "null", "boolean", "object", "array", "number", "string", "integer",
];

/// A schema checked at load: validation walks the JSON value directly, with its regexes
/// compiled once.
#[derive(Debug, Clone)]
pub struct LiteSchema {
    schema: Value,
    patterns: Patterns,
}

impl LiteSchema {
    /// Checks that every keyword is well formed and supported, and compiles its patterns.
    pub fn compile(schema: &Value) -> Result<LiteSchema, String> {
        let mut patterns = Patterns::new();
        check(schema, "", &mut patterns)?;
        Ok(LiteSchema {
            schema: schema.clone(),
            patterns,
        })
    }

    /// Validates `instance`; the first failure as (pointer inside the instance, message).
    pub fn validate(&self, instance: &Value) -> Result<(), (String, String)> {
        let mut path = String::new();
        let cx = Cx {
            patterns: &self.patterns,
        };
        cx.validate(&self.schema, instance, &mut path)
            .map_err(|m| (path, m))
    }
}

fn compile_pattern(p: &str, at: &str, patterns: &mut Patterns) -> Result<(), String> {
    if !patterns.contains_key(p) {
        let re = Regex::new(p).map_err(|e| {
            format!("pattern {p:?} at {at:?} is not supported by this build's regex engine: {e}")
        })?;
        patterns.insert(p.to_string(), re);
    }
    Ok(())
}

fn check(schema: &Value, at: &str, patterns: &mut Patterns) -> Result<(), String> {
    let m = match schema {
        Value::Bool(_) => return Ok(()),
        Value::Object(m) => m,
        other => {
            return Err(format!(
                "schema at {at:?} must be an object or a boolean, not {other}"
            ))
        }
    };
    for (k, v) in m {
        let here = format!("{at}/{k}");
        if UNSUPPORTED.contains(&k.as_str()) {
            return Err(format!(
                "keyword {k:?} at {at:?} is not supported by this build (it has no full JSON Schema validator)"
            ));
        }
        let bad = |what: &str| Err(format!("{k:?} at {at:?} must be {what}"));
        match k.as_str() {
            "type" => {
                let ok = |t: &Value| t.as_str().is_some_and(|t| TYPES.contains(&t));
                let valid = match v {
                    Value::Array(ts) => !ts.is_empty() && ts.iter().all(ok),
                    t => ok(t),
                };
                if !valid {
                    return bad("a JSON type name or a non-empty array of them");
                }
            }
            "enum" if !v.is_array() => return bad("an array"),
            "multipleOf" if v.as_f64().is_none_or(|x| x <= 0.0) => {
                return bad("a number greater than 0")
            }
            "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" if !v.is_number() => {
                return bad("a number")
            }
            "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties"
            | "maxProperties"
                if v.as_u64().is_none() =>
            {
                return bad("a non-negative integer")
            }
            "uniqueItems" if !v.is_boolean() => return bad("a boolean"),
            "required" if !is_string_array(v) => return bad("an array of strings"),
            "properties" => {
                let Some(props) = v.as_object() else {
                    return bad("an object of schemas");
                };
                for (name, s) in props {
                    check(s, &format!("{here}/{name}"), patterns)?;
                }
            }
            "dependentRequired" => {
                let ok = v
                    .as_object()
                    .is_some_and(|d| d.values().all(is_string_array));
                if !ok {
                    return bad("an object of string arrays");
                }
            }
            "pattern" => match v.as_str() {
                Some(p) => compile_pattern(p, at, patterns)?,
                None => return bad("a string"),
            },
            "patternProperties" => {
                let Some(props) = v.as_object() else {
                    return bad("an object of schemas");
                };
                for (p, s) in props {
                    compile_pattern(p, &here, patterns)?;
                    check(s, &format!("{here}/{p}"), patterns)?;
                }
            }
            "additionalProperties" | "items" | "not" => check(v, &here, patterns)?,
            "prefixItems" | "allOf" | "anyOf" | "oneOf" => {
                let Some(list) = v.as_array().filter(|l| !l.is_empty()) else {
                    return bad("a non-empty array of schemas");
                };
                for (i, s) in list.iter().enumerate() {
                    check(s, &format!("{here}/{i}"), patterns)?;
                }
            }
            _ => {} // annotations and unknown keywords
        }
    }
    Ok(())
}

fn is_string_array(v: &Value) -> bool {
    v.as_array().is_some_and(|l| l.iter().all(Value::is_string))
}

/// What validation needs besides the schema: the compiled regexes.
struct Cx<'a> {
    patterns: &'a Patterns,
}

impl Cx<'_> {
    /// Whether `text` matches `pattern` (compiled at load; unanchored, as JSON Schema says).
    fn matches(&self, pattern: &str, text: &str) -> bool {
        self.patterns
            .get(pattern)
            .is_some_and(|re| re.is_match(text))
    }

    /// Validates; on failure `path` holds the pointer of the offending value.
    fn validate(&self, schema: &Value, v: &Value, path: &mut String) -> Result<(), String> {
        let m = match schema {
            Value::Bool(true) => return Ok(()),
            Value::Bool(false) => return Err("no value is allowed here".into()),
            Value::Object(m) => m,
            _ => return Ok(()),
        };
        if let Some(t) = m.get("type") {
            let fits = match t {
                Value::Array(ts) => ts.iter().any(|t| has_type(v, t.as_str().unwrap_or(""))),
                t => has_type(v, t.as_str().unwrap_or("")),
            };
            if !fits {
                return Err(format!("{v} is not of type {t}"));
            }
        }
        if let Some(Value::Array(options)) = m.get("enum") {
            if !options.iter().any(|o| json_eq(o, v)) {
                return Err(format!(
                    "{v} is not one of {}",
                    Value::Array(options.clone())
                ));
            }
        }
        if let Some(c) = m.get("const") {
            if !json_eq(c, v) {
                return Err(format!("{v} is not {c}"));
            }
        }
        match v {
            Value::Number(n) => numbers(m, n.as_f64().unwrap_or(f64::NAN), v)?,
            Value::String(s) => {
                let len = s.chars().count() as u64;
                if bound(m, "minLength").is_some_and(|min| len < min) {
                    return Err(format!("{v} is shorter than {} characters", m["minLength"]));
                }
                if bound(m, "maxLength").is_some_and(|max| len > max) {
                    return Err(format!("{v} is longer than {} characters", m["maxLength"]));
                }
                if let Some(Value::String(p)) = m.get("pattern") {
                    if !self.matches(p, s) {
                        return Err(format!("{v} does not match {p:?}"));
                    }
                }
            }
            Value::Object(o) => self.object(m, o, path)?,
            Value::Array(a) => self.array(m, a, path)?,
            _ => {}
        }
        self.combinators(m, v, path)
    }

    fn object(
        &self,
        m: &Map<String, Value>,
        o: &Map<String, Value>,
        path: &mut String,
    ) -> Result<(), String> {
        if let Some(Value::Array(req)) = m.get("required") {
            if let Some(missing) = req
                .iter()
                .filter_map(Value::as_str)
                .find(|k| !o.contains_key(*k))
            {
                return Err(format!("{missing:?} is a required property"));
            }
        }
        if let Some(Value::Object(deps)) = m.get("dependentRequired") {
            for (k, needs) in deps.iter().filter(|(k, _)| o.contains_key(*k)) {
                let missing = needs
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str);
                if let Some(n) = missing.into_iter().find(|n| !o.contains_key(*n)) {
                    return Err(format!("{n:?} is required when {k:?} is present"));
                }
            }
        }
        let len = o.len() as u64;
        if bound(m, "minProperties").is_some_and(|min| len < min) {
            return Err(format!(
                "the object has fewer than {} properties",
                m["minProperties"]
            ));
        }
        if bound(m, "maxProperties").is_some_and(|max| len > max) {
            return Err(format!(
                "the object has more than {} properties",
                m["maxProperties"]
            ));
        }
        let props = m.get("properties").and_then(Value::as_object);
        let by_pattern = m.get("patternProperties").and_then(Value::as_object);
        let extra = m.get("additionalProperties");
        for (k, val) in o {
            // Every schema that applies: the named one, each matching pattern's, and
            // additionalProperties only when neither applies.
            let named = props.and_then(|p| p.get(k));
            let matched: Vec<&Value> = by_pattern
                .into_iter()
                .flatten()
                .filter(|(p, _)| self.matches(p, k))
                .map(|(_, s)| s)
                .collect();
            let mut subs: Vec<&Value> = named.into_iter().chain(matched).collect();
            if subs.is_empty() {
                match extra {
                    Some(Value::Bool(false)) => {
                        return Err(format!("additional property {k:?} is not allowed"));
                    }
                    Some(s) => subs.push(s),
                    None => continue,
                }
            }
            let len = path.len();
            path.push('/');
            path.push_str(&k.replace('~', "~0").replace('/', "~1"));
            for sub in subs {
                self.validate(sub, val, path)?;
            }
            path.truncate(len);
        }
        Ok(())
    }

    fn array(&self, m: &Map<String, Value>, a: &[Value], path: &mut String) -> Result<(), String> {
        let len = a.len() as u64;
        if bound(m, "minItems").is_some_and(|min| len < min) {
            return Err(format!("the array has fewer than {} items", m["minItems"]));
        }
        if bound(m, "maxItems").is_some_and(|max| len > max) {
            return Err(format!("the array has more than {} items", m["maxItems"]));
        }
        if m.get("uniqueItems") == Some(&Value::Bool(true)) {
            for (i, x) in a.iter().enumerate() {
                if a[..i].iter().any(|y| json_eq(x, y)) {
                    return Err(format!("the array has a repeated item {x}"));
                }
            }
        }
        let prefix = m
            .get("prefixItems")
            .and_then(Value::as_array)
            .map_or(&[][..], |p| p);
        for (i, item) in a.iter().enumerate() {
            let sub = match prefix.get(i) {
                Some(s) => s,
                None => match m.get("items") {
                    Some(s) => s,
                    None => continue,
                },
            };
            let len = path.len();
            path.push('/');
            path.push_str(&i.to_string());
            self.validate(sub, item, path)?;
            path.truncate(len);
        }
        Ok(())
    }

    fn combinators(
        &self,
        m: &Map<String, Value>,
        v: &Value,
        path: &mut String,
    ) -> Result<(), String> {
        let passes = |s: &Value| self.validate(s, v, &mut String::new()).is_ok();
        if let Some(Value::Array(all)) = m.get("allOf") {
            for s in all {
                self.validate(s, v, path)?;
            }
        }
        if let Some(Value::Array(any)) = m.get("anyOf") {
            if !any.iter().any(passes) {
                return Err(format!("{v} is not valid under any of the given schemas"));
            }
        }
        if let Some(Value::Array(one)) = m.get("oneOf") {
            let n = one.iter().filter(|s| passes(s)).count();
            if n != 1 {
                return Err(format!(
                    "{v} is valid under {n} of the given schemas, not exactly one"
                ));
            }
        }
        if let Some(not) = m.get("not") {
            if passes(not) {
                return Err(format!("{v} must not be valid under {not}"));
            }
        }
        Ok(())
    }
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "integer" => {
            v.is_i64()
                || v.is_u64()
                || v.as_f64()
                    .is_some_and(|x| x.is_finite() && x.fract() == 0.0)
        }
        _ => false,
    }
}

fn bound(m: &Map<String, Value>, k: &str) -> Option<u64> {
    m.get(k).and_then(Value::as_u64)
}

fn numbers(m: &Map<String, Value>, x: f64, v: &Value) -> Result<(), String> {
    let num = |k: &str| m.get(k).and_then(Value::as_f64);
    let fail = |k: &str, what: &str| Err(format!("{v} is {what} {}", m[k]));
    if num("minimum").is_some_and(|b| x < b) {
        return fail("minimum", "less than the minimum of");
    }
    if num("maximum").is_some_and(|b| x > b) {
        return fail("maximum", "greater than the maximum of");
    }
    if num("exclusiveMinimum").is_some_and(|b| x <= b) {
        return fail("exclusiveMinimum", "not greater than");
    }
    if num("exclusiveMaximum").is_some_and(|b| x >= b) {
        return fail("exclusiveMaximum", "not less than");
    }
    if let Some(d) = num("multipleOf") {
        let q = x / d;
        if !q.is_finite() || (q - q.round()).abs() > 1e-9 * q.abs().max(1.0) {
            return fail("multipleOf", "not a multiple of");
        }
    }
    Ok(())
}

/// JSON equality with numbers compared by value (`1` equals `1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
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

#[cfg(all(test, feature = "json-schema"))]
mod tests {
    //! Differential tests: the small validator agrees with the full one (the `jsonschema`
    //! crate) on validity and on the pointer of the first failure.

    use super::LiteSchema;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// The pointers of every error the full validator finds.
    fn full(schema: &Value, v: &Value) -> Vec<String> {
        let validator = jsonschema::options().build(schema).expect("valid schema");
        let errors: Vec<String> = validator
            .iter_errors(v)
            .map(|e| e.instance_path().to_string())
            .collect();
        errors
    }

    /// Same verdict; the small validator's pointer is one the full validator reports too, and
    /// the same one when there is a single error (which error comes first among several is
    /// each implementation's keyword order).
    fn agree(schema: &Value, v: &Value) {
        let lite = LiteSchema::compile(schema).expect("supported schema");
        let got = lite.validate(v).map_err(|(p, _)| p);
        let want = full(schema, v);
        assert_eq!(
            got.is_ok(),
            want.is_empty(),
            "{schema} on {v}: lite {got:?}, full {want:?}"
        );
        if let Err(p) = &got {
            assert!(
                want.contains(p),
                "{schema} on {v}: lite points at {p:?}, full at {want:?}"
            );
            if want.len() == 1 {
                assert_eq!(p, &want[0], "{schema} on {v}");
            }
        }
    }

    fn refund() -> Value {
        json!({"type": "object", "required": ["order_id", "amount"], "additionalProperties": false,
               "properties": {"order_id": {"type": "string", "minLength": 3, "maxLength": 12, "pattern": "^[a-m]|-1$"},
                              "amount": {"type": "number", "minimum": 0, "exclusiveMaximum": 10000, "multipleOf": 0.01},
                              "currency": {"enum": ["EUR", "USD", 1]},
                              "items": {"type": "array", "items": {"type": "integer"}, "maxItems": 3, "uniqueItems": true},
                              "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "boolean"}], "items": false},
                              "note": {"type": ["string", "null"]},
                              "mode": {"const": "fast"},
                              "any": {"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 2}]},
                              "one": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 5}]},
                              "no": {"not": {"type": "string"}},
                              "meta": {"type": "object", "minProperties": 1, "maxProperties": 2,
                                       "dependentRequired": {"a": ["b"]},
                                       "patternProperties": {"^a": {"type": "integer", "minimum": 0}, "b$": {"maximum": 3}},
                                       "additionalProperties": {"type": "integer"}}}})
    }

    #[test]
    fn agrees_on_hand_picked_cases() {
        let s = refund();
        for v in [
            json!({"order_id": "o-1", "amount": 5}),
            json!({"order_id": "o-1"}),
            json!({"order_id": "o-1", "amount": "ten"}),
            json!({"order_id": "o-1", "amount": -1}),
            json!({"order_id": "o-1", "amount": 10000}),
            json!({"order_id": "o-1", "amount": 1.005}),
            json!({"order_id": "o-1", "amount": 19.99}),
            json!({"order_id": "o", "amount": 1}),
            json!({"order_id": "o-1", "amount": 1, "extra": true}),
            json!({"order_id": "o-1", "amount": 1, "currency": "GBP"}),
            json!({"order_id": "o-1", "amount": 1, "currency": 1.0}),
            json!({"order_id": "o-1", "amount": 1, "items": [1, "two", 3]}),
            json!({"order_id": "o-1", "amount": 1, "items": [1, 2.0, 3]}),
            json!({"order_id": "o-1", "amount": 1, "items": [1, 1]}),
            json!({"order_id": "o-1", "amount": 1, "items": [1, 2, 3, 4]}),
            json!({"order_id": "o-1", "amount": 1, "pair": ["a", true]}),
            json!({"order_id": "o-1", "amount": 1, "pair": ["a", 1]}),
            json!({"order_id": "o-1", "amount": 1, "pair": ["a", true, 3]}),
            json!({"order_id": "o-1", "amount": 1, "note": null}),
            json!({"order_id": "o-1", "amount": 1, "note": 3}),
            json!({"order_id": "o-1", "amount": 1, "mode": "slow"}),
            json!({"order_id": "o-1", "amount": 1, "any": "abc"}),
            json!({"order_id": "o-1", "amount": 1, "any": 7}),
            json!({"order_id": "o-1", "amount": 1, "one": 7}),
            json!({"order_id": "o-1", "amount": 1, "one": 7.5}),
            json!({"order_id": "o-1", "amount": 1, "no": "x"}),
            json!({"order_id": "o-1", "amount": 1, "meta": {}}),
            json!({"order_id": "o-1", "amount": 1, "meta": {"a": 1}}),
            json!({"order_id": "o-1", "amount": 1, "meta": {"a": 1, "b": "x"}}),
            json!({"order_id": "o-1", "amount": 1, "meta": {"a": 1, "b": 2}}),
            json!({"order_id": "o-1", "amount": 1, "meta": {"a": 1, "b": 2, "c": 3}}),
            json!({"order_id": "ó✓🦀", "amount": 1}),
            json!({"order_id": "zz-1", "amount": 1}),
            json!({"order_id": "zzz", "amount": 1}),
            json!({"order_id": "o-1", "amount": 1, "meta": {"a": -1, "b": 2}}),
            json!({"order_id": "o-1", "amount": 1, "meta": {"ab": 5}}),
            json!({"order_id": "o-1", "amount": 1, "meta": {"ab": 2}}),
            json!({"order_id": "o-1", "amount": 1, "meta": {"c": "x"}}),
            json!([1, 2]),
            json!(null),
        ] {
            agree(&s, &v);
        }
        agree(&json!(true), &json!({"x": 1}));
        agree(&json!({"properties": {"x": false}}), &json!({"x": 1}));
        agree(
            &json!({"allOf": [{"type": "integer"}, {"minimum": 3}]}),
            &json!(2),
        );
        agree(&json!({"type": "integer"}), &json!(3.0));
        agree(
            &json!({"properties": {"a/b~c": {"type": "string"}}}),
            &json!({"a/b~c": 1}),
        );
    }

    #[test]
    fn refuses_what_it_cannot_enforce_and_what_is_malformed() {
        for s in [
            json!({"type": "strng"}),
            json!({"type": "string", "pattern": "(?=a)"}),
            json!({"patternProperties": {"(?<=x)": {}}}),
            json!({"type": "string", "pattern": 1}),
            json!({"properties": {"email": {"type": "string", "format": "email"}}}),
            json!({"$ref": "#/$defs/x", "$defs": {"x": {}}}),
            json!({"minimum": "0"}),
            json!({"required": "id"}),
            json!({"items": {"if": {}}}),
            json!({"multipleOf": 0}),
            json!({"anyOf": []}),
            json!(3),
        ] {
            assert!(LiteSchema::compile(&s).is_err(), "{s} should be refused");
        }
        LiteSchema::compile(
            &json!({"title": "t", "description": "d", "default": 1, "x-vendor": {}}),
        )
        .expect("annotations and unknown keywords are ignored");
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-20i64..20).prop_map(|i| json!(i)),
            (-20.0f64..20.0).prop_map(|f| json!((f * 4.0).round() / 4.0)),
            "[a-z]{0,4}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("order_id".to_string()),
                        Just("amount".to_string()),
                        Just("items".to_string()),
                        Just("meta".to_string()),
                        Just("a".to_string()),
                        Just("b".to_string()),
                        "[a-z]{1,3}"
                    ],
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn agrees_on_arbitrary_instances(v in arb_value()) {
            agree(&refund(), &v);
            agree(&json!({"type": "array", "items": {"type": ["integer", "string"], "minimum": 0, "maxLength": 2}, "uniqueItems": true}), &v);
        }
    }
}
