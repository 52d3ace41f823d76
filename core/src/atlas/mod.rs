//! Atlases: the manifest model, full validation, loading (text or directory) and compilation,
//! with the compiled rule parts a compiled atlas holds and the engine evaluates (action
//! patterns, policy conditions, parameter schemas). Depends on nothing in `engine`.

pub mod compile;
pub mod conditions;
pub mod files;
mod lint;
pub mod load;
pub mod model;
pub mod params;
pub mod pattern;
pub mod schema;
pub mod validate;
pub mod walk;

pub use compile::CompiledAtlas;
pub use load::{document_from_dir, manifest_from_dir, manifest_from_files, manifest_from_json};
pub use model::AtlasManifest;
