//! Schema text → [`Schema`]: every keyword checked, local `$ref`s resolved, regexes built.

use super::format::Format;
use super::{Id, Keywords, Node, Schema, TYPES};
use regex_lite::Regex;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Keywords whose meaning this validator cannot enforce: a schema using one is refused.
const UNSUPPORTED: &[&str] = &[
    "$dynamicRef",
    "$dynamicAnchor",
    "$recursiveRef",
    "$recursiveAnchor",
    "$anchor",
    "$vocabulary",
    "unevaluatedProperties",
    "unevaluatedItems",
    "dependencies",
    "additionalItems",
];

struct Compiler<'a> {
    root: &'a Value,
    nodes: Vec<Node>,
    regexes: Vec<Regex>,
    regex_ids: HashMap<String, usize>,
    /// Node of each compiled subschema by its JSON pointer in the root (escaped form).
    by_pointer: HashMap<String, Id>,
    /// `$ref` placeholders still to point at their target: (placeholder, target pointer).
    pending: Vec<(Id, String)>,
}

pub(super) fn compile(root: &Value) -> Result<Schema, String> {
    let mut c = Compiler {
        root,
        nodes: Vec::new(),
        regexes: Vec::new(),
        regex_ids: HashMap::new(),
        by_pointer: HashMap::new(),
        pending: Vec::new(),
    };
    let id = c.node(root, "")?;
    debug_assert_eq!(id, 0);
    while let Some((placeholder, ptr)) = c.pending.pop() {
        let target = match c.by_pointer.get(&ptr) {
            Some(&t) => t,
            None => {
                let found = pointer_get(root, &ptr)
                    .ok_or_else(|| format!("$ref \"#{ptr}\" points at nothing in the schema"))?;
                if !found.is_object() && !found.is_boolean() {
                    return Err(format!("$ref \"#{ptr}\" does not point at a schema"));
                }
                c.node(found, &ptr)?
            }
        };
        c.nodes[placeholder as usize] = Node::Keywords(Box::new(Keywords {
            ref_: Some(target),
            ..Keywords::default()
        }));
    }
    Ok(Schema {
        nodes: c.nodes,
        regexes: c.regexes,
    })
}

impl Compiler<'_> {
    fn push(&mut self, n: Node) -> Id {
        self.nodes.push(n);
        (self.nodes.len() - 1) as Id
    }

    fn regex(&mut self, p: &str, at: &str) -> Result<usize, String> {
        if let Some(&i) = self.regex_ids.get(p) {
            return Ok(i);
        }
        let re = Regex::new(p).map_err(|e| {
            format!("pattern {p:?} at {at:?} is not supported by the regex engine: {e}")
        })?;
        self.regexes.push(re);
        self.regex_ids.insert(p.to_string(), self.regexes.len() - 1);
        Ok(self.regexes.len() - 1)
    }

    /// Compiles the subschema at pointer `at` (escaped JSON pointer inside the root).
    fn node(&mut self, schema: &Value, at: &str) -> Result<Id, String> {
        let m = match schema {
            Value::Bool(b) => {
                let id = self.push(Node::Bool(*b));
                self.by_pointer.insert(at.to_string(), id);
                return Ok(id);
            }
            Value::Object(m) => m,
            other => {
                return Err(format!(
                    "schema at {at:?} must be an object or a boolean, not {other}"
                ))
            }
        };
        // Reserve the slot first, so the root is node 0 and a parent precedes its children.
        let id = self.push(Node::Bool(true));
        self.by_pointer.insert(at.to_string(), id);
        let k = self.keywords(m, at)?;
        self.nodes[id as usize] = Node::Keywords(Box::new(k));
        Ok(id)
    }

    fn sub(&mut self, v: &Value, at: &str, key: &str) -> Result<Id, String> {
        self.node(v, &format!("{at}/{}", escape(key)))
    }

    fn sub_list(&mut self, v: &Value, at: &str, k: &str) -> Result<Vec<Id>, String> {
        let Some(list) = v.as_array().filter(|l| !l.is_empty()) else {
            return Err(format!(
                "{k:?} at {at:?} must be a non-empty array of schemas"
            ));
        };
        let here = format!("{at}/{k}");
        (0..list.len())
            .map(|i| self.node(&list[i], &format!("{here}/{i}")))
            .collect()
    }

    fn sub_map(&mut self, v: &Value, at: &str, k: &str) -> Result<Vec<(String, Id)>, String> {
        let Some(map) = v.as_object() else {
            return Err(format!("{k:?} at {at:?} must be an object of schemas"));
        };
        let here = format!("{at}/{}", escape(k));
        map.iter()
            .map(|(name, s)| Ok((name.clone(), self.sub(s, &here, name)?)))
            .collect()
    }

    fn keywords(&mut self, m: &Map<String, Value>, at: &str) -> Result<Keywords, String> {
        let mut kw = Keywords::default();
        for (k, v) in m {
            if UNSUPPORTED.contains(&k.as_str()) {
                return Err(format!("keyword {k:?} at {at:?} is not supported"));
            }
            let bad = |what: &str| Err(format!("{k:?} at {at:?} must be {what}"));
            let count = || v.as_u64();
            let num = || v.as_f64().filter(|_| v.is_number());
            match k.as_str() {
                "$id" if at.is_empty() => {}
                "$id" => {
                    return Err(format!(
                        "keyword \"$id\" at {at:?} is not supported (only at the root)"
                    ))
                }
                "$schema" | "$comment" if !v.is_string() => return bad("a string"),
                "$ref" => {
                    let Some(r) = v.as_str() else {
                        return bad("a string");
                    };
                    kw.ref_ = Some(self.reference(r, at)?);
                }
                "$defs" | "definitions" => {
                    self.sub_map(v, at, k)?;
                }
                "type" => {
                    let bit = |t: &Value| {
                        t.as_str()
                            .and_then(|t| TYPES.iter().position(|x| *x == t))
                            .map(|i| 1u8 << i)
                    };
                    let bits = match v {
                        Value::Array(ts) if !ts.is_empty() => {
                            ts.iter().map(bit).try_fold(0u8, |a, b| b.map(|b| a | b))
                        }
                        Value::Array(_) => None,
                        t => bit(t),
                    };
                    match bits {
                        Some(b) => kw.types = Some(b),
                        None => return bad("a JSON type name or a non-empty array of them"),
                    }
                }
                "enum" => match v {
                    Value::Array(l) => kw.enum_ = Some(l.clone()),
                    _ => return bad("an array"),
                },
                "const" => kw.const_ = Some(v.clone()),
                "multipleOf" => match num().filter(|x| *x > 0.0) {
                    Some(x) => kw.multiple_of = Some(x),
                    None => return bad("a number greater than 0"),
                },
                "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => {
                    let Some(x) = num() else {
                        return bad("a number");
                    };
                    *match k.as_str() {
                        "minimum" => &mut kw.minimum,
                        "maximum" => &mut kw.maximum,
                        "exclusiveMinimum" => &mut kw.exclusive_minimum,
                        _ => &mut kw.exclusive_maximum,
                    } = Some(x);
                }
                "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties"
                | "maxProperties" | "minContains" | "maxContains" => {
                    let Some(n) = count().or_else(|| integral(v)) else {
                        return bad("a non-negative integer");
                    };
                    *match k.as_str() {
                        "minLength" => &mut kw.min_length,
                        "maxLength" => &mut kw.max_length,
                        "minItems" => &mut kw.min_items,
                        "maxItems" => &mut kw.max_items,
                        "minProperties" => &mut kw.min_properties,
                        "maxProperties" => &mut kw.max_properties,
                        "minContains" => &mut kw.min_contains,
                        _ => &mut kw.max_contains,
                    } = Some(n);
                }
                "uniqueItems" => match v {
                    Value::Bool(b) => kw.unique_items = *b,
                    _ => return bad("a boolean"),
                },
                "required" => match strings(v) {
                    Some(l) => kw.required = l,
                    None => return bad("an array of strings"),
                },
                "dependentRequired" => {
                    let deps = v.as_object().and_then(|d| {
                        d.iter()
                            .map(|(k, l)| strings(l).map(|l| (k.clone(), l)))
                            .collect::<Option<Vec<_>>>()
                    });
                    match deps {
                        Some(d) => kw.dependent_required = d,
                        None => return bad("an object of string arrays"),
                    }
                }
                "pattern" => match v.as_str() {
                    Some(p) => kw.pattern = Some((self.regex(p, at)?, p.to_string())),
                    None => return bad("a string"),
                },
                "format" => match v.as_str() {
                    Some(f) => match Format::parse(f) {
                        Some(f) => kw.format = Some(f),
                        None => {
                            return Err(format!(
                                "format {f:?} at {at:?} is not supported (supported: {})",
                                Format::NAMES.join(", ")
                            ))
                        }
                    },
                    None => return bad("a string"),
                },
                "properties" => kw.properties = self.sub_map(v, at, k)?,
                "dependentSchemas" => kw.dependent_schemas = self.sub_map(v, at, k)?,
                "patternProperties" => {
                    let Some(props) = v.as_object() else {
                        return bad("an object of schemas");
                    };
                    let here = format!("{at}/{k}");
                    for (p, s) in props {
                        let re = self.regex(p, &here)?;
                        kw.pattern_properties.push((re, self.sub(s, &here, p)?));
                    }
                }
                "additionalProperties" => kw.additional_properties = Some(self.sub(v, at, k)?),
                "propertyNames" => kw.property_names = Some(self.sub(v, at, k)?),
                "items" => kw.items = Some(self.sub(v, at, k)?),
                "contains" => kw.contains = Some(self.sub(v, at, k)?),
                "not" => kw.not = Some(self.sub(v, at, k)?),
                "if" => kw.if_ = Some(self.sub(v, at, k)?),
                "then" => kw.then = Some(self.sub(v, at, k)?),
                "else" => kw.else_ = Some(self.sub(v, at, k)?),
                "prefixItems" => kw.prefix_items = self.sub_list(v, at, k)?,
                "allOf" => kw.all_of = self.sub_list(v, at, k)?,
                "anyOf" => kw.any_of = self.sub_list(v, at, k)?,
                "oneOf" => kw.one_of = self.sub_list(v, at, k)?,
                _ => {} // annotations and unknown keywords
            }
        }
        Ok(kw)
    }

    /// A `$ref`: only a fragment pointer into this schema (`#`, `#/$defs/x`, ...).
    fn reference(&mut self, r: &str, at: &str) -> Result<Id, String> {
        let refuse = |why: &str| Err(format!("$ref {r:?} at {at:?} is not supported: {why}"));
        let Some(fragment) = r.strip_prefix('#') else {
            return refuse("only references inside this schema (starting with \"#\") are");
        };
        let Some(ptr) = percent_decode(fragment) else {
            return refuse("bad percent-encoding");
        };
        if !ptr.is_empty() && !ptr.starts_with('/') {
            return refuse("anchors are not supported, only JSON pointers");
        }
        if ptr.split('/').any(|t| unescape(t).is_none()) {
            return refuse("bad JSON pointer escape");
        }
        if pointer_get(self.root, &ptr).is_none() {
            return Err(format!(
                "$ref {r:?} at {at:?} points at nothing in the schema"
            ));
        }
        // A placeholder that will point at the target once every subschema is compiled.
        let id = self.push(Node::Bool(true));
        self.pending.push((id, ptr));
        Ok(id)
    }
}

/// A non-negative integer written as a float (`2.0`), as the specification allows.
fn integral(v: &Value) -> Option<u64> {
    v.as_f64()
        .filter(|x| *x >= 0.0 && x.fract() == 0.0 && *x < 1.8e19)
        .map(|x| x as u64)
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_string))
        .collect()
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn unescape(token: &str) -> Option<String> {
    let mut out = String::with_capacity(token.len());
    let mut it = token.chars();
    while let Some(c) = it.next() {
        match c {
            '~' => match it.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    Some(out)
}

/// `serde_json`'s pointer lookup, with array indices and escapes.
fn pointer_get<'v>(root: &'v Value, ptr: &str) -> Option<&'v Value> {
    root.pointer(ptr)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
