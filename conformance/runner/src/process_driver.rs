//! A driver that is another program: each binding other than Rust provides a small driver
//! (Python, Node/WASM, Go, Ruby; see docs/bindings.md) that performs operations through its own
//! public API, and this runner does everything else (reading the corpus, tamper operations,
//! comparing, the report).
//!
//! The protocol is JSON lines over the child's stdin/stdout, one request and one answer each:
//!
//! ```text
//! → {"op": "create", "args": [{"text": "<config JSON>"}]}
//! → {"op": "resolve", "args": [{"json": {...}}]}           a JSON argument: pass it as an object
//! → {"op": "check", "args": [{"text": "s1"}, {"text": "a"}]} a text argument: pass it verbatim
//! → {"op": "close", "args": []}
//! ← {"ok": "<the answer text>"}   or  {"ok": null}   (no output)
//! ← {"error": {"code": "INVALID_REQUEST", "pointer": "/x" | null, "message": "..."}}
//! ```
//!
//! Bounds: an answer line may be at most [`MAX_ANSWER_BYTES`]; a call that takes longer than
//! [`CALL_TIMEOUT`] kills the driver (the call fails; the next `create` starts a new one). A
//! driver that exits or writes something that is not an answer fails the call the same way, so a
//! broken driver makes cases fail, never pass.

use crate::driver::{Arg, Driver, DriverError};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

/// Longest a single operation may take before the driver is considered hung.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest answer line accepted from a driver (the corpus's answers are a few KB).
pub const MAX_ANSWER_BYTES: u64 = 64 << 20;

struct Running {
    child: Child,
    stdin: ChildStdin,
    answers: Receiver<Result<String, String>>,
}

/// Runs operations in a driver program started from `command` (program and arguments).
pub struct ProcessDriver {
    name: String,
    command: Vec<String>,
    running: Option<Running>,
}

fn failure(code: &str, message: String) -> DriverError {
    DriverError {
        code: code.into(),
        pointer: None,
        message,
    }
}

impl ProcessDriver {
    /// A driver named `name` (for reports) that runs `command`; nothing starts until `create`.
    pub fn new(name: &str, command: Vec<String>) -> ProcessDriver {
        ProcessDriver {
            name: name.into(),
            command,
            running: None,
        }
    }

    fn start(&mut self) -> Result<&mut Running, DriverError> {
        if self.running.is_none() {
            let (program, rest) = self
                .command
                .split_first()
                .ok_or_else(|| failure("DRIVER", "no driver command".into()))?;
            let mut child = Command::new(program)
                .args(rest)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| failure("DRIVER", format!("cannot start {program:?}: {e}")))?;
            let stdin = child.stdin.take().expect("piped stdin");
            let stdout = child.stdout.take().expect("piped stdout");
            let (tx, answers) = mpsc::channel();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stdout.take(u64::MAX));
                loop {
                    let mut line = String::new();
                    reader.get_mut().set_limit(MAX_ANSWER_BYTES);
                    let (answer, last) = match reader.read_line(&mut line) {
                        Ok(0) => (Err("the driver exited".into()), true),
                        Ok(_) if !line.ends_with('\n') => (
                            Err(format!(
                                "answer line longer than {MAX_ANSWER_BYTES} bytes or cut short"
                            )),
                            true,
                        ),
                        Ok(_) => (Ok(line), false),
                        Err(e) => (Err(format!("reading the driver's answer: {e}")), true),
                    };
                    if tx.send(answer).is_err() || last {
                        return;
                    }
                }
            });
            self.running = Some(Running {
                child,
                stdin,
                answers,
            });
        }
        Ok(self.running.as_mut().expect("just started"))
    }

    fn stop(&mut self) {
        if let Some(mut r) = self.running.take() {
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
    }

    fn request(&mut self, op: &str, args: &[Arg]) -> Result<Option<String>, DriverError> {
        let args: Vec<Value> = args
            .iter()
            .map(|a| match a {
                Arg::Json { value, .. } => json!({ "json": value }),
                Arg::Text(t) => json!({ "text": String::from_utf8_lossy(t) }),
            })
            .collect();
        let mut line = serde_json::to_vec(&json!({"op": op, "args": args})).unwrap_or_default();
        line.push(b'\n');
        let name = self.name.clone();
        let running = self.start()?;
        let sent = running
            .stdin
            .write_all(&line)
            .and_then(|_| running.stdin.flush());
        let answer = match sent {
            Err(e) => Err(format!("writing to the driver: {e}")),
            Ok(()) => match running.answers.recv_timeout(CALL_TIMEOUT) {
                Ok(a) => a,
                Err(RecvTimeoutError::Timeout) => Err(format!(
                    "no answer to {op} within {} s",
                    CALL_TIMEOUT.as_secs()
                )),
                Err(RecvTimeoutError::Disconnected) => Err("the driver exited".into()),
            },
        };
        let parsed = answer.and_then(|a| {
            serde_json::from_str::<Value>(&a).map_err(|e| format!("answer is not JSON ({e}): {a}"))
        });
        let v = match parsed {
            Ok(v) => v,
            Err(m) => {
                self.stop();
                return Err(failure("DRIVER", format!("{name} driver, {op}: {m}")));
            }
        };
        if let Some(e) = v.get("error") {
            return Err(DriverError {
                code: e["code"].as_str().unwrap_or("DRIVER").to_string(),
                pointer: e["pointer"].as_str().map(str::to_string),
                message: e["message"].as_str().unwrap_or("").to_string(),
            });
        }
        match v.get("ok") {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Null) => Ok(None),
            _ => {
                self.stop();
                Err(failure(
                    "DRIVER",
                    format!("{name} driver, {op}: an answer needs \"ok\" (text or null) or \"error\": {v}"),
                ))
            }
        }
    }
}

impl Driver for ProcessDriver {
    fn name(&self) -> &str {
        &self.name
    }

    fn create(&mut self, config: &[u8]) -> Result<(), DriverError> {
        self.request("create", &[Arg::text(config)]).map(|_| ())
    }

    fn call(&mut self, op: &str, args: &[Arg]) -> Result<Vec<u8>, DriverError> {
        let out = self.request(op, args)?;
        Ok(out.map_or_else(|| b"null".to_vec(), String::into_bytes))
    }

    fn close(&mut self) {
        if self.running.is_some() && self.request("close", &[]).is_err() {
            self.stop();
        }
    }
}

impl Drop for ProcessDriver {
    fn drop(&mut self) {
        if let Some(mut r) = self.running.take() {
            // Closing stdin asks the driver to exit; give it a moment before killing it.
            drop(r.stdin);
            for _ in 0..50 {
                if matches!(r.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
    }
}
