//! Parameter validation against an action's `parameters_schema` (and the context schema):
//! the one JSON Schema validator of every build, [`super::schema`], which refuses at load the
//! keywords it cannot enforce.

use serde_json::Value;

/// A compiled parameters schema.
#[derive(Debug)]
pub struct ParamValidator {
    inner: super::schema::Schema,
}

/// Checks that `schema` is a valid JSON Schema this build can enforce (used at atlas load).
pub fn check_schema(schema: &Value) -> Result<(), String> {
    compile(schema).map(|_| ())
}

/// Compiles a schema; the error names the refused or malformed keyword and where it is.
pub fn compile(schema: &Value) -> Result<ParamValidator, String> {
    super::schema::Schema::compile(schema).map(|inner| ParamValidator { inner })
}

impl ParamValidator {
    /// Validates `params`; on failure returns (JSON pointer inside the parameters, message).
    pub fn validate(&self, params: &Value) -> Result<(), (String, String)> {
        self.inner.validate(params)
    }
}
