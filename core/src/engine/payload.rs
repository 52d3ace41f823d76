//! Canonical (RFC 8785) TRACE payloads of a resolution, written directly as text.
//!
//! `Resolution::render` (resolution.rs) is the reference: it builds each payload as a JSON value.
//! The background trace thread calls these writers instead, which produce the same bytes without
//! building the value (members in JCS order: these keys are ASCII, so byte order). The tests
//! below compare both for many resolutions.

use super::resolution::{Resolution, VerdictKind};
use crate::atlas::compile::NO_POLICY;
use crate::clock::write_rfc3339_us;
use crate::protocol::{CarpRequest, Operation, RiskTier};
use crate::trace::canonical::{write_canonical, write_object, write_string, write_u64};
use crate::trace::EventType;

fn opt_str(out: &mut String, v: Option<&str>) {
    match v {
        Some(s) => write_string(s, out),
        None => out.push_str("null"),
    }
}

fn str_array<'a>(out: &mut String, items: impl Iterator<Item = &'a str>) {
    out.push('[');
    for (i, s) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(s, out);
    }
    out.push(']');
}

fn ts(out: &mut String, us: i64) {
    out.push('"');
    write_rfc3339_us(us, out);
    out.push('"');
}

/// A request's canonical JSON: the same bytes as canonicalizing its serde serialization.
pub fn write_request(r: &CarpRequest, out: &mut String) {
    // Members sorted: atlas_ids, carp_version, context, execution, operation, request_id,
    // requester, task, timestamp (absent options are skipped, as serde skips them).
    out.push('{');
    if let Some(ids) = &r.atlas_ids {
        out.push_str("\"atlas_ids\":");
        str_array(out, ids.iter().map(String::as_str));
        out.push(',');
    }
    if let Some(v) = &r.carp_version {
        out.push_str("\"carp_version\":");
        write_string(v, out);
        out.push(',');
    }
    if let Some(c) = &r.context {
        out.push_str("\"context\":");
        write_object(c, out);
        out.push(',');
    }
    if let Some(e) = &r.execution {
        out.push_str("\"execution\":{\"action_id\":");
        write_string(&e.action_id, out);
        if let Some(k) = &e.idempotency_key {
            out.push_str(",\"idempotency_key\":");
            write_string(k, out);
        }
        out.push_str(",\"parameters\":");
        write_canonical(&e.parameters, out);
        out.push_str(",\"resolution_id\":");
        write_string(&e.resolution_id, out);
        out.push_str("},");
    }
    out.push_str(match r.operation {
        Operation::Resolve => "\"operation\":\"resolve\"",
        Operation::Execute => "\"operation\":\"execute\"",
    });
    if let Some(id) = &r.request_id {
        out.push_str(",\"request_id\":");
        write_string(id, out);
    }
    out.push_str(",\"requester\":{\"agent_id\":");
    write_string(&r.requester.agent_id, out);
    if let Some(p) = &r.requester.parent_session_id {
        out.push_str(",\"parent_session_id\":");
        write_string(p, out);
    }
    out.push_str(",\"session_id\":");
    write_string(&r.requester.session_id, out);
    out.push('}');
    if let Some(t) = &r.task {
        out.push_str(",\"task\":{");
        if let Some(h) = &t.context_hints {
            out.push_str("\"context_hints\":");
            str_array(out, h.iter().map(String::as_str));
            out.push(',');
        }
        out.push_str("\"goal\":");
        write_string(&t.goal, out);
        if let Some(m) = t.max_context_tokens {
            out.push_str(",\"max_context_tokens\":");
            write_u64(m as u64, out);
        }
        if let Some(c) = &t.required_capabilities {
            out.push_str(",\"required_capabilities\":");
            str_array(out, c.iter().map(String::as_str));
        }
        if let Some(tier) = t.risk_tier {
            out.push_str(",\"risk_tier\":");
            write_string(RiskTier::as_str(tier), out);
        }
        out.push('}');
    }
    if let Some(t) = &r.timestamp {
        out.push_str(",\"timestamp\":");
        write_string(t, out);
    }
    out.push('}');
}

impl Resolution {
    /// Writes the canonical payload of the event type `view` (see `render`).
    pub(crate) fn write_payload(&self, view: EventType, out: &mut String) {
        match view {
            EventType::RequestReceived => {
                out.push_str("{\"operation\":\"resolve\",\"request\":");
                write_request(&self.request, out);
                out.push_str(",\"request_id\":");
                write_string(&self.request_id, out);
                out.push('}');
            }
            EventType::PolicyEvaluated => {
                out.push_str("{\"allowed\":");
                write_u64(self.counts.0 as u64, out);
                out.push_str(",\"denied\":");
                write_u64(self.counts.1 as u64, out);
                out.push_str(",\"pending\":");
                write_u64(self.counts.2 as u64, out);
                out.push_str(",\"resolution_id\":");
                write_string(&self.resolution_id, out);
                out.push_str(",\"verdicts\":[");
                for (i, (atlas, a, v)) in self.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let (verdict, code) = match v.kind {
                        VerdictKind::Allowed => ("allowed", None),
                        VerdictKind::Pending => ("pending", Some("approval_required")),
                        VerdictKind::Denied(r) => ("denied", Some(r.code())),
                    };
                    out.push_str("{\"action_id\":");
                    write_string(&a.id, out);
                    out.push_str(",\"atlas_id\":");
                    write_string(&atlas.id, out);
                    out.push_str(",\"policy_id\":");
                    opt_str(
                        out,
                        (v.policy != NO_POLICY).then(|| &*atlas.policies[v.policy as usize].id),
                    );
                    out.push_str(",\"reason_code\":");
                    opt_str(out, code);
                    out.push_str(",\"verdict\":");
                    write_string(verdict, out);
                    out.push('}');
                }
                out.push_str("]}");
            }
            EventType::ContextInjected => {
                out.push_str("{\"blocks\":[");
                for (i, b) in self.blocks.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let atlas = &self.snapshot.atlases[b.atlas as usize];
                    let blk = &atlas.packs[b.pack as usize].blocks[b.block as usize];
                    out.push_str("{\"block_id\":");
                    write_string(&blk.block_id, out);
                    out.push_str(",\"source\":");
                    write_string(&atlas.id, out);
                    out.push_str(",\"token_estimate\":");
                    write_u64(blk.tokens as u64, out);
                    out.push('}');
                }
                out.push_str("],\"resolution_id\":");
                write_string(&self.resolution_id, out);
                out.push_str(",\"token_total\":");
                write_u64(self.token_total as u64, out);
                out.push('}');
            }
            _ => {
                out.push_str("{\"allowed_actions\":");
                str_array(
                    out,
                    self.iter()
                        .filter(|(_, _, v)| v.kind == VerdictKind::Allowed)
                        .map(|(_, a, _)| &*a.id),
                );
                out.push_str(",\"approval_id\":");
                opt_str(out, self.approval_id.as_deref());
                out.push_str(",\"atlases\":[");
                for (i, sel) in self.selected.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let a = &self.snapshot.atlases[sel.atlas as usize];
                    out.push_str("{\"atlas_id\":");
                    write_string(&a.id, out);
                    out.push_str(",\"version\":");
                    write_string(&a.version, out);
                    out.push('}');
                }
                out.push_str("],\"context_blocks\":");
                write_u64(self.blocks.len() as u64, out);
                out.push_str(",\"decision\":");
                write_string(self.decision.as_str(), out);
                out.push_str(",\"denied_actions\":");
                str_array(
                    out,
                    self.iter()
                        .filter(|(_, _, v)| matches!(v.kind, VerdictKind::Denied(_)))
                        .map(|(_, a, _)| &*a.id),
                );
                out.push_str(",\"expires_at\":");
                ts(out, self.expires_at_us);
                out.push_str(",\"pending_actions\":");
                str_array(
                    out,
                    self.iter()
                        .filter(|(_, _, v)| v.kind == VerdictKind::Pending)
                        .map(|(_, a, _)| &*a.id),
                );
                out.push_str(",\"request_id\":");
                write_string(&self.request_id, out);
                out.push_str(",\"resolution_id\":");
                write_string(&self.resolution_id, out);
                out.push('}');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::write_request;
    use crate::protocol::{CarpRequest, RiskTier};
    use crate::trace::canonical::canonicalize;
    use crate::trace::{event::MemoryRecorder, EventType, PayloadSource};
    use crate::{Resolver, ResolverConfig};
    use serde_json::json;
    use std::sync::Arc;

    fn requests() -> Vec<CarpRequest> {
        let mut a = CarpRequest::resolve("agent-\u{e9}", "s\"1", "refund ORD-1 \u{1f600} \n tab\t");
        a.task.as_mut().unwrap().risk_tier = Some(RiskTier::High);
        a.task.as_mut().unwrap().context_hints = Some(vec!["money back".into(), "\u{7f}".into()]);
        a.task.as_mut().unwrap().required_capabilities =
            Some(vec!["refunds".into(), "lookup".into()]);
        a.task.as_mut().unwrap().max_context_tokens = Some(4000);
        a.context = Some(
            json!({"z": 1.5, "a": [1, "x", null], "\u{e9}": {"b": true, "a": 1e21}, "B": -0.0})
                .as_object()
                .unwrap()
                .clone(),
        );
        a.atlas_ids = Some(vec!["com.example.support".into()]);
        a.carp_version = Some("1.0".into());
        a.timestamp = Some("2026-01-01T00:00:00+01:00".into());
        a.requester.parent_session_id = Some("parent".into());
        let b = CarpRequest::resolve("a", "s", "");
        let mut c =
            CarpRequest::execute("a", "s", "r", "x.y", json!({"amount": 20.5, "id": "ORD-1"}));
        c.execution.as_mut().unwrap().idempotency_key = Some("k1".into());
        c.request_id = Some("req".into());
        vec![a, b, c]
    }

    #[test]
    fn request_writer_matches_serde_then_jcs() {
        for r in requests() {
            let mut out = String::new();
            write_request(&r, &mut out);
            assert_eq!(out, canonicalize(&serde_json::to_value(&r).unwrap()));
        }
    }

    #[test]
    fn resolution_writers_match_render() {
        let r = Resolver::with_recorder(
            ResolverConfig::deterministic(1),
            Arc::new(MemoryRecorder::new()),
        )
        .unwrap();
        for dir in ["customer-support", "devops"] {
            r.load_atlas_dir(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../examples/atlases")
                    .join(dir),
            )
            .unwrap();
        }
        let mut reqs = requests();
        reqs.truncate(2);
        reqs[0].atlas_ids = None;
        reqs[0].task.as_mut().unwrap().required_capabilities = None;
        reqs.push(CarpRequest::resolve("support-bot-1", "s2", "refund please"));
        reqs.push(CarpRequest::resolve("oncall-1", "s3", "deploy").with_risk(RiskTier::Critical));
        for (i, mut req) in reqs.into_iter().enumerate() {
            req.requester.session_id = format!("session-{i}");
            // the devops atlas declares its context
            let ctx = req.context.get_or_insert_with(Default::default);
            ctx.entry("environment").or_insert("staging".into());
            let res = r.resolve(req).unwrap();
            for view in [
                EventType::RequestReceived,
                EventType::PolicyEvaluated,
                EventType::ContextInjected,
                EventType::ResolutionCompleted,
            ] {
                let mut direct = String::new();
                res.write_canonical(view, &mut direct);
                assert_eq!(direct, canonicalize(&res.render(view)), "{view:?}");
            }
        }
    }
}
