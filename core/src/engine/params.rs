//! Parameter validation against an action's `parameters_schema`: the full JSON Schema validator
//! (the `jsonschema` crate) behind the `json-schema` feature; without it (the WASM build), the
//! small validator of `schema_lite`, which refuses at load the keywords it cannot enforce.

use serde_json::Value;

/// A compiled parameters schema.
pub struct ParamValidator {
    #[cfg(feature = "json-schema")]
    inner: jsonschema::Validator,
    #[cfg(not(feature = "json-schema"))]
    inner: super::schema_lite::LiteSchema,
}

impl std::fmt::Debug for ParamValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ParamValidator")
    }
}

/// Checks that `schema` is a valid JSON Schema (used at atlas load).
pub fn check_schema(schema: &Value) -> Result<(), String> {
    compile(schema).map(|_| ())
}

/// Compiles a schema.
#[cfg(feature = "json-schema")]
pub fn compile(schema: &Value) -> Result<ParamValidator, String> {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map(|inner| ParamValidator { inner })
        .map_err(|e| e.to_string())
}

/// Compiles a schema with the small validator (refuses keywords it cannot enforce).
#[cfg(not(feature = "json-schema"))]
pub fn compile(schema: &Value) -> Result<ParamValidator, String> {
    super::schema_lite::LiteSchema::compile(schema).map(|inner| ParamValidator { inner })
}

impl ParamValidator {
    /// Validates `params`; on failure returns (JSON pointer inside the parameters, message).
    #[cfg(feature = "json-schema")]
    pub fn validate(&self, params: &Value) -> Result<(), (String, String)> {
        match self.inner.iter_errors(params).next() {
            None => Ok(()),
            Some(e) => Err((e.instance_path().to_string(), e.to_string())),
        }
    }

    /// Validates `params` with the small validator.
    #[cfg(not(feature = "json-schema"))]
    pub fn validate(&self, params: &Value) -> Result<(), (String, String)> {
        self.inner.validate(params)
    }
}
