//! The process driver fails closed: a driver that exits, answers garbage or answers without
//! "ok"/"error" fails the call (and so the case), and errors carry the driver's code and pointer.

use cra_conformance::{Arg, Driver, ProcessDriver};

fn sh(script: &str) -> ProcessDriver {
    ProcessDriver::new("sh", vec!["sh".into(), "-c".into(), script.into()])
}

#[test]
fn a_driver_that_exits_fails_the_call() {
    let e = sh("exit 0").create(b"{}").unwrap_err();
    assert_eq!(e.code, "DRIVER");
    // Depending on when it exits, the request meets a closed pipe or the answer never comes.
    assert!(
        e.message.contains("exited") || e.message.contains("writing to the driver"),
        "{e:?}"
    );
}

#[test]
fn an_answer_that_is_not_json_fails_the_call() {
    let e = sh("read l; echo 'not json'; sleep 5")
        .create(b"{}")
        .unwrap_err();
    assert!(e.message.contains("not JSON"), "{e:?}");
}

#[test]
fn an_answer_without_ok_or_error_fails_the_call() {
    let e = sh("read l; echo '{\"okay\": 1}'; sleep 5")
        .create(b"{}")
        .unwrap_err();
    assert!(e.message.contains("needs \"ok\""), "{e:?}");
}

#[test]
fn errors_carry_the_drivers_code_and_pointer() {
    let mut d = sh(
        r#"while read l; do echo '{"error": {"code": "INVALID_REQUEST", "pointer": "/task", "message": "m"}}'; done"#,
    );
    let e = d
        .call("resolve", &[Arg::json(serde_json::json!({"a": 1}))])
        .unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.pointer.as_deref()),
        ("INVALID_REQUEST", Some("/task"))
    );
}

#[test]
fn requests_name_the_op_and_tell_json_from_text_and_answers_come_back() {
    // The driver echoes each request line back as the answer text, so the test sees the wire.
    let mut d = sh(
        r#"while IFS= read -r l; do printf '{"ok": %s}\n' "$(printf '%s' "$l" | sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$/"/')"; done"#,
    );
    let out = d
        .call(
            "check",
            &[Arg::json(serde_json::json!({"k": [1]})), Arg::text("s1")],
        )
        .unwrap();
    let sent: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({"op": "check", "args": [{"json": {"k": [1]}}, {"text": "s1"}]})
    );
    d.close();
    // After a failure the next call starts a fresh driver.
    let mut dead = sh("exit 0");
    assert!(dead.create(b"{}").is_err());
    assert!(
        dead.create(b"{}").is_err(),
        "a second create restarts the driver (which exits again)"
    );
}
