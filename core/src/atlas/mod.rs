//! Atlases: the manifest model, full validation, loading (text or directory) and compilation.

pub mod compile;
mod lint;
pub mod load;
pub mod model;
pub mod validate;
pub mod walk;

pub use compile::CompiledAtlas;
pub use load::{document_from_dir, manifest_from_dir, manifest_from_json};
pub use model::AtlasManifest;
