//! The whole corpus through libcra over the C ABI (dlopen of the release library; `make
//! build-ffi` builds it, `CRA_LIB` overrides the path), and proof that this runner fails on a
//! deliberately wrong corpus.

#[path = "common/cabi.rs"]
mod cabi;

use cabi::CabiDriver;
use cra_conformance::run::{load_xfail, CaseOutcome};
use cra_conformance::run_corpus;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn driver() -> CabiDriver {
    CabiDriver::load().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn corpus_through_the_c_abi() {
    let root = root();
    let xfail = load_xfail(&root, "c-abi").unwrap();
    let report = run_corpus(&root, &mut driver(), &xfail);
    println!("{}", report.render("c-abi"));
    assert!(
        report.ok(),
        "conformance failures through the C ABI:\n{}",
        report.render("c-abi")
    );
}

#[test]
fn a_deliberately_wrong_corpus_fails_through_the_c_abi() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wrong");
    // The fixture's xfail list is named for the core binding; use it for this one too.
    let report = run_corpus(&root, &mut driver(), &load_xfail(&root, "core").unwrap());
    assert!(!report.ok());
    let fails = report
        .cases
        .iter()
        .filter(|(_, o)| matches!(o, CaseOutcome::Fail(_) | CaseOutcome::XPass(_)))
        .count();
    assert_eq!(fails, 3, "{}", report.render("c-abi"));
}
