//! Wire types: CARP requests and answers, atlas manifests (see `atlas` module), strict parsing.

pub mod carp;
mod execute_wire;
pub mod json_guard;
#[cfg(feature = "fast-parse")]
mod shape;
pub mod strict;

pub use carp::*;
