//! The execute answer's wire JSON written straight into bytes (what `api::execute`, and so
//! every binding, returns). Byte for byte the output of its `Serialize` impl, which stays the
//! reference: debug builds compare the two on every call through `api::execute`, and the tests
//! below do so in release builds.

use super::carp::ExecuteAnswer;
use crate::trace::canonical::write_string;

fn opt(s: Option<&str>, out: &mut String) {
    match s {
        Some(s) => write_string(s, out),
        None => out.push_str("null"),
    }
}

impl ExecuteAnswer {
    /// The wire JSON (protocol.md §3) as bytes; equal to `serde_json::to_vec(self)`.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let reason = self.reason.as_deref().map_or(0, str::len);
        let mut out = String::with_capacity(400 + reason + self.action_id.len());
        out.push_str("{\"carp_version\":");
        write_string(self.carp_version, &mut out);
        out.push_str(",\"request_id\":");
        write_string(&self.request_id, &mut out);
        out.push_str(",\"execution_id\":");
        opt(self.execution_id.as_deref(), &mut out);
        out.push_str(",\"resolution_id\":");
        write_string(&self.resolution_id, &mut out);
        out.push_str(",\"action_id\":");
        write_string(&self.action_id, &mut out);
        out.push_str(",\"status\":");
        write_string(self.status.as_str(), &mut out);
        out.push_str(",\"reason_code\":");
        opt(self.reason_code, &mut out);
        out.push_str(",\"error_code\":");
        opt(self.error_code().map(|c| c.as_str()), &mut out);
        out.push_str(",\"reason\":");
        opt(self.reason.as_deref(), &mut out);
        out.push_str(",\"policy_id\":");
        opt(self.policy_id.as_deref(), &mut out);
        out.push_str(",\"approval_id\":");
        opt(self.approval_id.as_deref(), &mut out);
        out.push_str(",\"timestamp\":");
        write_string(&self.timestamp, &mut out);
        out.push_str(",\"trace_id\":");
        write_string(&self.trace_id, &mut out);
        if self.replayed {
            out.push_str(",\"replayed\":true");
        }
        if let Some(o) = self.outcome {
            out.push_str(",\"outcome\":");
            write_string(o, &mut out);
        }
        out.push('}');
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use crate::protocol::{ExecuteAnswer, ExecuteStatus, CARP_VERSION};

    #[test]
    fn the_direct_writer_matches_serde() {
        let texts = [
            "plain",
            "q\"uo\\te",
            "ctl\u{0}\u{1f}\n\r\t\u{8}\u{c}\u{7f}",
            "é 🦀 \u{2028}",
            "",
        ];
        for (i, t) in texts.iter().enumerate() {
            let some = |s: &str| Some(s.to_string());
            for status in [
                ExecuteStatus::Authorized,
                ExecuteStatus::Denied,
                ExecuteStatus::PendingApproval,
            ] {
                let full = i % 2 == 0;
                let a = ExecuteAnswer {
                    carp_version: CARP_VERSION,
                    request_id: format!("req{t}"),
                    execution_id: full.then(|| t.to_string()),
                    resolution_id: t.to_string(),
                    action_id: format!("a.{t}"),
                    status,
                    reason_code: full.then_some("policy_denied"),
                    reason: some(&t.repeat(50)),
                    policy_id: (!full).then(|| t.to_string()),
                    approval_id: full.then(|| t.to_string()),
                    timestamp: "2026-01-01T00:00:00.000000Z".into(),
                    trace_id: t.to_string(),
                    replayed: !full,
                    outcome: (!full).then_some("executed"),
                };
                assert_eq!(
                    String::from_utf8(a.to_json_bytes()).unwrap(),
                    serde_json::to_string(&a).unwrap()
                );
            }
        }
    }
}
