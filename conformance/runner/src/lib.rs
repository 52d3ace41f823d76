//! The Rust conformance runner: reads the shared corpus (`conformance/`), runs every case
//! through a [`Driver`], and reports per case. See `conformance/README.md` for the format.
//!
//! Other bindings have their own runners that interpret the same format; this one serves the
//! core API (`CoreDriver`) and libcra over the C ABI (see the tests).

pub mod core_driver;
pub mod driver;
pub mod matching;
pub mod run;

pub use core_driver::CoreDriver;
pub use driver::{Driver, DriverError};
pub use run::{run_corpus, CaseOutcome, CorpusReport};
