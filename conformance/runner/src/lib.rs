//! The Rust conformance runner: reads the shared corpus (`conformance/`), runs every case
//! through a [`Driver`], and reports per case. See `conformance/README.md` for the format.
//!
//! This is the one interpreter of the corpus: the core API (`CoreDriver`) and libcra over the
//! C ABI (see the tests) are driven in process; every other binding through its driver program
//! (`ProcessDriver`, the `cra-conformance` command; docs/bindings.md).

pub mod core_driver;
pub mod driver;
pub mod matching;
pub mod process_driver;
pub mod run;

pub use core_driver::CoreDriver;
pub use driver::{Arg, Driver, DriverError};
pub use process_driver::ProcessDriver;
pub use run::{run_corpus, CaseOutcome, CorpusReport};
