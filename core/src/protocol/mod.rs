//! Wire types: CARP requests and answers, atlas manifests (see `atlas` module), strict parsing.

pub mod carp;
mod shape;
pub mod strict;

pub use carp::*;
