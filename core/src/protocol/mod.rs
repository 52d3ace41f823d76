//! Wire types: CARP requests and answers, atlas manifests (see `atlas` module), strict parsing.

pub(crate) mod carp;
mod execute_wire;
pub(crate) mod json_guard;
#[cfg(feature = "fast-parse")]
mod shape;
pub mod strict;

pub use carp::*;
