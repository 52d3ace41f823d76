//! Atlases: what an agent may do and know. An atlas declares **actions** (tools), **context
//! packs** (knowledge blocks) and **policies** (deny, require approval, rate limit, allow); see
//! `docs/protocol.md` §6 for the format.
//!
//! Most users hand atlas text to [`Resolver::load_atlas_json`](crate::Resolver::load_atlas_json)
//! or a directory to [`Resolver::load_atlas_dir`](crate::Resolver::load_atlas_dir). The functions
//! here parse and fully validate an atlas without loading it (an [`AtlasManifest`], for
//! [`Resolver::load_manifest`](crate::Resolver::load_manifest), [`crate::replay::replay`] or
//! inspection); every failure is `INVALID_ATLAS` with the problems and their JSON pointers.
//!
//! Internally (not public) the manifest is compiled into the form the engine evaluates:
//! action patterns, policy conditions and parameter schemas.

pub(crate) mod compile;
pub(crate) mod conditions;
pub(crate) mod files;
mod lint;
pub(crate) mod load;
pub(crate) mod model;
pub(crate) mod params;
pub(crate) mod pattern;
pub(crate) mod schema;
pub(crate) mod validate;
pub(crate) mod walk;

pub(crate) use compile::CompiledAtlas;
pub use files::{MAX_ATLAS_BYTES, MAX_PACK_FILES_TOTAL_BYTES, MAX_PACK_FILE_BYTES};
pub use load::{document_from_dir, manifest_from_dir, manifest_from_files, manifest_from_json};
pub use model::{
    Action, AtlasManifest, Capability, Conditions, ContextPack, PackBlock, Policy, PolicyType,
    RateLimitSpec, RateScope, TimeWindow, ATLAS_VERSION,
};
