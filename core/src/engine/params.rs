//! Parameter validation against an action's `parameters_schema` (a real JSON Schema validator
//! behind the `json-schema` feature; without it, only "parameters is an object" is checked).

use serde_json::Value;

/// A compiled parameters schema.
pub struct ParamValidator {
    #[cfg(feature = "json-schema")]
    inner: jsonschema::Validator,
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

/// Compiles a schema (no validator compiled in: accepted as is).
#[cfg(not(feature = "json-schema"))]
pub fn compile(_schema: &Value) -> Result<ParamValidator, String> {
    Ok(ParamValidator {})
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

    /// Validates `params` (no validator compiled in: always passes).
    #[cfg(not(feature = "json-schema"))]
    pub fn validate(&self, _params: &Value) -> Result<(), (String, String)> {
        Ok(())
    }
}
