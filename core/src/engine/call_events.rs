//! TRACE payloads of an `execute` call, shared by reference and written as canonical text.
//!
//! One [`Call`] per execute holds what every event of the call names (ids, idempotency key,
//! parameters); each event adds a small [`Outcome`]. The engine builds no JSON on the caller's
//! thread: the recorder renders the payload (and hashes the parameters) in the background.
//! [`PayloadSource::render`] builds the JSON value, which stays the reference;
//! [`PayloadSource::write_canonical`] writes the same bytes directly (members sorted, as RFC
//! 8785 wants; every key is ASCII), which the tests below compare for many inputs.

use crate::trace::canonical::write_string;
use crate::trace::{EventPayload, EventType, PayloadSource};
use serde_json::{Map, Value};
use std::sync::Arc;

/// What every event of one execute call names.
#[derive(Debug)]
pub(crate) struct Call {
    pub request_id: String,
    pub resolution_id: String,
    pub action_id: String,
    pub idempotency_key: Option<String>,
    /// The call's parameters (recorded as `parameters_hash`, never copied into the trace).
    pub params: Arc<Value>,
}

/// One event's own members, beside the call's.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// `action.requested`, `status: "authorized"`.
    Authorized {
        execution_id: String,
        policy_id: Option<String>,
        approval_id: Option<String>,
    },
    /// `action.requested`, `status: "pending_approval"`.
    Pending {
        approval_id: Option<String>,
        policy_id: Option<String>,
    },
    /// `action.denied` / `policy.violated`.
    Denied {
        reason_code: Option<&'static str>,
        policy_id: Option<String>,
        approval_id: Option<String>,
    },
    /// `action.denied` for parameters that do not match the schema.
    InvalidParameters { pointer: String },
}

/// A payload member's value.
enum Field<'a> {
    Str(&'a str),
    Opt(Option<&'a str>),
    /// BLAKE3 of the value's canonical form, lowercase hex.
    Hash(&'a Value),
}

type Fields<'a> = Vec<(&'static str, Field<'a>)>;

/// `carp.request.received` of an execute call.
#[derive(Debug)]
pub(crate) struct Received(pub Arc<Call>);

/// An event after the verdict: the call and what it came to.
#[derive(Debug)]
pub(crate) struct Decided {
    pub call: Arc<Call>,
    pub outcome: Outcome,
}

impl Received {
    fn fields(&self) -> Fields<'_> {
        let c = &*self.0;
        vec![
            ("request_id", Field::Str(&c.request_id)),
            ("operation", Field::Str("execute")),
            ("resolution_id", Field::Str(&c.resolution_id)),
            ("action_id", Field::Str(&c.action_id)),
            ("idempotency_key", Field::Opt(c.idempotency_key.as_deref())),
            ("parameters_hash", Field::Hash(&c.params)),
        ]
    }
}

impl Decided {
    fn fields(&self) -> Fields<'_> {
        let c = &*self.call;
        let mut f = vec![
            ("resolution_id", Field::Str(&c.resolution_id)),
            ("action_id", Field::Str(&c.action_id)),
        ];
        match &self.outcome {
            Outcome::Authorized {
                execution_id,
                policy_id,
                approval_id,
            } => {
                f.push(("execution_id", Field::Str(execution_id)));
                f.push(("status", Field::Str("authorized")));
                f.push(("policy_id", Field::Opt(policy_id.as_deref())));
                f.push(("approval_id", Field::Opt(approval_id.as_deref())));
                f.push(("parameters_hash", Field::Hash(&c.params)));
            }
            Outcome::Pending {
                approval_id,
                policy_id,
            } => {
                f.push(("status", Field::Str("pending_approval")));
                f.push(("approval_id", Field::Opt(approval_id.as_deref())));
                f.push(("policy_id", Field::Opt(policy_id.as_deref())));
                f.push(("parameters_hash", Field::Hash(&c.params)));
            }
            Outcome::Denied {
                reason_code,
                policy_id,
                approval_id,
            } => {
                f.push(("reason_code", Field::Opt(*reason_code)));
                f.push(("policy_id", Field::Opt(policy_id.as_deref())));
                f.push(("approval_id", Field::Opt(approval_id.as_deref())));
            }
            Outcome::InvalidParameters { pointer } => {
                f.push(("reason_code", Field::Str("invalid_parameters")));
                f.push(("pointer", Field::Str(pointer)));
            }
        }
        f
    }
}

fn hash_hex(v: &Value) -> String {
    super::execute::value_hash(v)
}

fn render(fields: Fields<'_>) -> Value {
    let mut m = Map::new();
    for (k, f) in fields {
        let v = match f {
            Field::Str(s) => Value::String(s.to_string()),
            Field::Opt(s) => s.map_or(Value::Null, |s| Value::String(s.to_string())),
            Field::Hash(v) => Value::String(hash_hex(v)),
        };
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

fn write(mut fields: Fields<'_>, out: &mut String) {
    // RFC 8785 orders members by UTF-16 code units; for these ASCII keys that is byte order.
    fields.sort_unstable_by_key(|(k, _)| *k);
    out.push('{');
    for (i, (k, f)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        out.push_str(k);
        out.push_str("\":");
        match f {
            Field::Str(s) | Field::Opt(Some(s)) => write_string(s, out),
            Field::Opt(None) => out.push_str("null"),
            Field::Hash(v) => {
                out.push('"');
                out.push_str(&hash_hex(v));
                out.push('"');
            }
        }
    }
    out.push('}');
}

impl PayloadSource for Received {
    fn render(&self, _view: EventType) -> Value {
        render(self.fields())
    }
    fn write_canonical(&self, _view: EventType, out: &mut String) {
        write(self.fields(), out)
    }
}

impl PayloadSource for Decided {
    fn render(&self, _view: EventType) -> Value {
        render(self.fields())
    }
    fn write_canonical(&self, _view: EventType, out: &mut String) {
        write(self.fields(), out)
    }
}

/// The `carp.request.received` payload of `call`.
pub(crate) fn received(call: &Arc<Call>) -> EventPayload {
    EventPayload::Lazy(Arc::new(Received(call.clone())))
}

/// The payload of an event that records `outcome` for `call`.
pub(crate) fn decided(call: &Arc<Call>, outcome: Outcome) -> EventPayload {
    EventPayload::Lazy(Arc::new(Decided {
        call: call.clone(),
        outcome,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::canonical::write_canonical;
    use serde_json::json;

    fn call(s: &str, key: Option<&str>, params: Value) -> Arc<Call> {
        Arc::new(Call {
            request_id: format!("req-{s}"),
            resolution_id: format!("res-{s}"),
            action_id: format!("act.{s}"),
            idempotency_key: key.map(str::to_string),
            params: Arc::new(params),
        })
    }

    fn check(p: &dyn PayloadSource) {
        let mut direct = String::new();
        p.write_canonical(EventType::ActionDenied, &mut direct);
        let mut reference = String::new();
        write_canonical(&p.render(EventType::ActionDenied), &mut reference);
        assert_eq!(direct, reference);
    }

    #[test]
    fn direct_writers_match_the_canonical_form_of_the_rendered_value() {
        let strings = [
            "plain",
            "quote\" back\\slash",
            "ctl\u{1}\n\t\u{7f}",
            "é ü 🦀 \u{2028}",
        ];
        let params = [
            json!({}),
            json!({"b": 1, "a": [1.5, "x", null, true], "é": {"z": -0.0}}),
        ];
        let some = |s: &str| Some(s.to_string());
        for s in strings {
            for key in [None, Some(s)] {
                for p in &params {
                    let c = call(s, key, p.clone());
                    check(&Received(c.clone()));
                    let outcomes = [
                        Outcome::Authorized {
                            execution_id: format!("ex-{s}"),
                            policy_id: some(s),
                            approval_id: None,
                        },
                        Outcome::Authorized {
                            execution_id: "e".into(),
                            policy_id: None,
                            approval_id: some(s),
                        },
                        Outcome::Pending {
                            approval_id: some(s),
                            policy_id: None,
                        },
                        Outcome::Denied {
                            reason_code: Some("policy_denied"),
                            policy_id: some(s),
                            approval_id: None,
                        },
                        Outcome::Denied {
                            reason_code: None,
                            policy_id: None,
                            approval_id: some(s),
                        },
                        Outcome::InvalidParameters {
                            pointer: format!("/execution/parameters/{s}"),
                        },
                    ];
                    for outcome in outcomes {
                        check(&Decided {
                            call: c.clone(),
                            outcome,
                        });
                    }
                }
            }
        }
    }

    #[test]
    fn rendered_values_are_the_payloads_the_trace_has_always_carried() {
        let c = call("x", None, json!({"n": 1}));
        let hash = hash_hex(&json!({"n": 1}));
        assert_eq!(
            Received(c.clone()).render(EventType::RequestReceived),
            json!({"request_id": "req-x", "operation": "execute", "resolution_id": "res-x",
                   "action_id": "act.x", "idempotency_key": null, "parameters_hash": hash})
        );
        let d = Decided {
            call: c,
            outcome: Outcome::Denied {
                reason_code: Some("default_deny"),
                policy_id: None,
                approval_id: None,
            },
        };
        assert_eq!(
            d.render(EventType::ActionDenied),
            json!({"resolution_id": "res-x", "action_id": "act.x", "reason_code": "default_deny",
                   "policy_id": null, "approval_id": null})
        );
    }
}
