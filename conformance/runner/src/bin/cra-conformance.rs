//! `cra-conformance`: the shared corpus through any binding's driver program.
//!
//! ```text
//! cra-conformance --binding python [--corpus DIR] [--self-test] -- python3 driver.py
//! ```
//!
//! Runs every case of the corpus (default: the repository's `conformance/`) through the driver
//! (see `process_driver.rs` for the protocol), with the binding's expected-failure list
//! (`xfail/<binding>.json`), prints the report, and exits 1 unless every case passed.
//! `--self-test` first runs the deliberately wrong corpus (`runner/tests/fixtures/wrong`) through
//! the same driver and requires exactly its known outcome (1 passed, 2 failed with the right
//! messages, 1 unexpected pass): proof that this driver and runner can fail.

use cra_conformance::run::{load_xfail, CaseOutcome};
use cra_conformance::{run_corpus, ProcessDriver};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str =
    "usage: cra-conformance --binding NAME [--corpus DIR] [--self-test] -- COMMAND [ARGS...]";

fn default_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The wrong fixture must fail exactly as designed, case by case.
fn self_test(binding: &str, command: &[String]) -> Result<(), String> {
    let root = default_corpus().join("runner/tests/fixtures/wrong");
    let xfail = load_xfail(&root, "core")?;
    let mut driver = ProcessDriver::new(binding, command.to_vec());
    let report = run_corpus(&root, &mut driver, &xfail);
    let got: Vec<(&str, &CaseOutcome)> =
        report.cases.iter().map(|(i, o)| (i.as_str(), o)).collect();
    let fails_with = |i: usize, id: &str, needle: &str| matches!(got.get(i), Some((gid, CaseOutcome::Fail(m))) if *gid == id && m.contains(needle));
    let as_designed = matches!(got.first(), Some(("selftest/right", CaseOutcome::Pass)))
        && fails_with(1, "selftest/wrong-decision", "/decision/type")
        && fails_with(2, "selftest/wrong-error-code", "INVALID_REQUEST")
        && matches!(got.get(3), Some(("selftest/xpass", CaseOutcome::XPass(_))))
        && got.len() == 4
        && !report.ok();
    if as_designed {
        println!("self-test[{binding}]: the deliberately wrong corpus fails as designed (1 passed, 3 failed)");
        Ok(())
    } else {
        Err(format!(
            "self-test[{binding}]: the deliberately wrong corpus did not fail as designed:\n{}",
            report.render(binding)
        ))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (opts, command) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], args[i + 1..].to_vec()),
        None => (&args[..], Vec::new()),
    };
    let (mut binding, mut corpus, mut check_self) = (None, default_corpus(), false);
    let mut it = opts.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--binding" => binding = it.next().cloned(),
            "--corpus" => corpus = it.next().map(PathBuf::from).unwrap_or(corpus),
            "--self-test" => check_self = true,
            other => {
                eprintln!("cra-conformance: unknown option {other:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let (Some(binding), false) = (binding, command.is_empty()) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if check_self {
        if let Err(m) = self_test(&binding, &command) {
            eprintln!("{m}");
            return ExitCode::FAILURE;
        }
    }
    let xfail = match load_xfail(&corpus, &binding) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("cra-conformance: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut driver = ProcessDriver::new(&binding, command);
    let report = run_corpus(&corpus, &mut driver, &xfail);
    print!("{}", report.render(&binding));
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
