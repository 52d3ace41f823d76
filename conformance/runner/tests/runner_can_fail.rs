//! The runner is able to fail: a deliberately wrong corpus must be reported as failing, case by
//! case, and manifest drift must be caught.

use cra_conformance::run::{load_xfail, CaseOutcome};
use cra_conformance::{run_corpus, CoreDriver};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn a_deliberately_wrong_corpus_fails() {
    let root = fixture("wrong");
    let report = run_corpus(
        &root,
        &mut CoreDriver::default(),
        &load_xfail(&root, "core").unwrap(),
    );
    let outcomes: Vec<(&str, &CaseOutcome)> = report
        .cases
        .iter()
        .map(|(id, o)| (id.as_str(), o))
        .collect();
    assert_eq!(outcomes[0], ("selftest/right", &CaseOutcome::Pass));
    assert!(
        matches!(outcomes[1], ("selftest/wrong-decision", CaseOutcome::Fail(m)) if m.contains("/decision/type")),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[2], ("selftest/wrong-error-code", CaseOutcome::Fail(m)) if m.contains("INVALID_REQUEST")),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[3], ("selftest/xpass", CaseOutcome::XPass(_))),
        "{outcomes:?}"
    );
    assert!(!report.ok());
    assert!(
        report.render("core").ends_with("1 passed, 3 failed\n"),
        "{}",
        report.render("core")
    );
}

#[test]
fn manifest_drift_fails() {
    let dir = std::env::temp_dir().join(format!("cra-manifest-drift-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("cases")).unwrap();
    std::fs::copy(
        fixture("wrong").join("cases/deliberately-wrong.json"),
        dir.join("cases/a.json"),
    )
    .unwrap();
    std::fs::write(
        dir.join("manifest.json"),
        r#"{"total": 5, "files": {"cases/a.json": 5}}"#,
    )
    .unwrap();
    let report = run_corpus(&dir, &mut CoreDriver::default(), &Default::default());
    assert!(!report.ok());
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.contains("has 4 cases; manifest.json says 5")),
        "{:?}",
        report.errors
    );
    // Ran 4 of 5: the shortfall itself counts as a failure.
    assert_eq!(report.cases.len(), 4);
    std::fs::remove_dir_all(&dir).ok();
}
