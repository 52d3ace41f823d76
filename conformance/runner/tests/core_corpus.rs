//! The whole corpus through the core API.

use cra_conformance::run::load_xfail;
use cra_conformance::{run_corpus, CoreDriver};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn corpus_through_core_api() {
    let root = root();
    let xfail = load_xfail(&root, "core").unwrap();
    let report = run_corpus(&root, &mut CoreDriver::default(), &xfail);
    println!("{}", report.render("core"));
    assert!(
        report.ok(),
        "conformance failures through the core API:\n{}",
        report.render("core")
    );
    assert!(report.expected_total >= 1, "the manifest lists no cases");
}
