//! The JSON Schema (draft 2020-12) validator of every build: the native libraries, the Python
//! and Node packages and the WASM module validate `parameters_schema` (and `context_schema`)
//! with this one implementation, so no two builds can disagree on a tool call.
//!
//! A schema is compiled once at atlas load into a tree of nodes (keywords parsed, regexes
//! built, local `$ref`s resolved); validation walks that tree. Supported keywords:
//!
//! - any type: `type`, `enum`, `const`, `allOf`, `anyOf`, `oneOf`, `not`,
//!   `if`/`then`/`else`, boolean schemas;
//! - numbers: `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`;
//! - strings: `minLength`, `maxLength`, `pattern` (the `regex-lite` engine: a pattern it
//!   cannot compile, such as a look-around, is refused), `format` (asserted; see [`format`]);
//! - objects: `properties`, `patternProperties`, `additionalProperties`, `required`,
//!   `minProperties`, `maxProperties`, `dependentRequired`, `dependentSchemas`,
//!   `propertyNames`;
//! - arrays: `items`, `prefixItems`, `minItems`, `maxItems`, `uniqueItems`, `contains`,
//!   `minContains`, `maxContains`;
//! - references: `$ref` to `#`, `#/$defs/…`, `#/definitions/…` or any JSON pointer inside
//!   the root schema (percent-encoded and `~0`/`~1` escapes decoded), with `$defs` and
//!   `definitions` as their containers; a `$schema` and a root `$id` are annotations.
//!
//! Annotations (`title`, `description`, `default`, `examples`, ...) and unknown keywords are
//! ignored, as the specification says. A keyword this validator cannot enforce (a remote or
//! anchor `$ref`, `$dynamicRef`, `unevaluatedProperties`, a nested `$id`, an unknown `format`,
//! ...) makes the schema **refused at atlas load**, never silently skipped: a policy author
//! who relies on it gets an error naming the keyword and where it is, not an unchecked call.
//!
//! Bounds: a reference cycle can make validation re-enter the same schema without consuming
//! the instance (`{"$ref": "#"}`), so validation fails closed when schemas nest deeper than
//! [`MAX_DEPTH`] or when one validation visits more than [`MAX_STEPS`] schema nodes.

mod compile;
pub mod format;
mod validate;

use regex_lite::Regex;
use serde_json::Value;

/// How deeply schema applications may nest in one validation (each keyword that applies a
/// subschema, `$ref` included, is one level). A deeper validation fails, closed.
pub const MAX_DEPTH: u32 = 256;

/// How many schema nodes one validation may visit (bounds `anyOf` blow-ups through
/// references and huge instances). A longer validation fails, closed.
pub const MAX_STEPS: u32 = 1_000_000;

/// A compiled schema: validation walks its nodes, never the JSON text.
#[derive(Debug, Clone)]
pub struct Schema {
    nodes: Vec<Node>,
    regexes: Vec<Regex>,
}

/// Index of a node in [`Schema::nodes`]; the root is node 0.
type Id = u32;

/// One (sub)schema.
#[derive(Debug, Clone)]
enum Node {
    /// `true` (everything is valid) or `false` (nothing is).
    Bool(bool),
    /// An object schema.
    Keywords(Box<Keywords>),
}

/// The parsed keywords of one object schema; absent keywords are `None` or empty.
#[derive(Debug, Clone, Default)]
struct Keywords {
    /// Bit set of [`TYPES`] indices.
    types: Option<u8>,
    enum_: Option<Vec<Value>>,
    const_: Option<Value>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    multiple_of: Option<f64>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    /// Index into [`Schema::regexes`] and the source (for messages).
    pattern: Option<(usize, String)>,
    format: Option<format::Format>,
    required: Vec<String>,
    dependent_required: Vec<(String, Vec<String>)>,
    min_properties: Option<u64>,
    max_properties: Option<u64>,
    properties: Vec<(String, Id)>,
    pattern_properties: Vec<(usize, Id)>,
    additional_properties: Option<Id>,
    property_names: Option<Id>,
    dependent_schemas: Vec<(String, Id)>,
    prefix_items: Vec<Id>,
    items: Option<Id>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    unique_items: bool,
    contains: Option<Id>,
    min_contains: Option<u64>,
    max_contains: Option<u64>,
    all_of: Vec<Id>,
    any_of: Vec<Id>,
    one_of: Vec<Id>,
    not: Option<Id>,
    if_: Option<Id>,
    then: Option<Id>,
    else_: Option<Id>,
    ref_: Option<Id>,
}

/// The JSON type names, in the order of the [`Keywords::types`] bits.
const TYPES: [&str; 7] = [
    "null", "boolean", "object", "array", "number", "string", "integer",
];

impl Schema {
    /// Checks that every keyword is well formed and enforceable, resolves the local `$ref`s
    /// and compiles the patterns; the error names the keyword and its pointer in the schema.
    pub fn compile(schema: &Value) -> Result<Schema, String> {
        compile::compile(schema)
    }

    /// Validates `instance`; the first failure as (pointer inside the instance, message).
    pub fn validate(&self, instance: &Value) -> Result<(), (String, String)> {
        validate::validate(self, instance)
    }

    /// Whether `instance` is valid (no error message is built).
    pub fn is_valid(&self, instance: &Value) -> bool {
        self.validate(instance).is_ok()
    }
}

#[cfg(test)]
mod tests;
