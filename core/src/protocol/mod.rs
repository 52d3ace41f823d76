//! Wire types: CARP requests and answers, atlas manifests (see `atlas` module), strict parsing.

pub mod carp;
#[cfg(feature = "fast-parse")]
mod shape;
pub mod strict;

pub use carp::*;
