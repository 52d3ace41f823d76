//! The resolution's wire JSON written straight into bytes: what `api::resolve`, and so every
//! binding, returns.
//!
//! Everything that comes from an atlas (an action's ids, name, description and schema, a
//! policy's id and reason, a whole context block) was rendered as JSON text when the atlas was
//! compiled, so writing a resolution copies fragments and escapes only the few strings made per
//! request (ids, timestamps, reasons). The output is byte for byte that of the `Serialize` impl
//! in `resolution.rs`, which stays the reference: debug builds compare the two on every call
//! through `api::resolve`, and a test does so in release builds.

use super::resolution::{Resolution, VerdictKind};
use crate::atlas::compile::{CompiledAtlas, NO_POLICY};
use crate::atlas::model::{RateLimitSpec, RateScope};
use crate::clock::format_rfc3339_us;
use crate::protocol::CARP_VERSION;
use crate::trace::canonical::write_string;
use std::fmt::Write;

impl Resolution {
    /// The wire JSON (protocol.md §3) as bytes; equal to `serde_json::to_vec(self)`.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(self.wire_size_hint());
        self.write_json(&mut out);
        out.into_bytes()
    }

    /// A capacity that holds the answer without regrowing in the usual case.
    fn wire_size_hint(&self) -> usize {
        let blocks: usize = self
            .blocks
            .iter()
            .map(|b| self.block(b).wire.get().len())
            .sum();
        let actions: usize = self
            .iter()
            .map(|(_, a, _)| a.wire.head.len() + a.wire.mid.len() + a.wire.tail.len() + 96)
            .sum();
        512 + blocks + actions
    }

    fn write_json(&self, out: &mut String) {
        out.push_str("{\"carp_version\":");
        write_string(CARP_VERSION, out);
        out.push_str(",\"resolution_id\":");
        write_string(&self.resolution_id, out);
        out.push_str(",\"request_id\":");
        write_string(&self.request_id, out);
        out.push_str(",\"timestamp\":");
        write_string(&format_rfc3339_us(self.timestamp_us), out);
        out.push_str(",\"decision\":{\"type\":");
        write_string(self.decision.as_str(), out);
        out.push_str(",\"reason\":");
        write_string(&self.decision_reason(), out);
        out.push_str(",\"approval_id\":");
        write_opt(self.approval_id.as_deref(), out);
        out.push_str(",\"expires_at\":");
        write_string(&format_rfc3339_us(self.expires_at_us), out);
        out.push_str("},\"context_blocks\":[");
        for (i, b) in self.blocks.iter().enumerate() {
            comma(i, out);
            out.push_str(self.block(b).wire.get());
        }
        out.push_str("],\"allowed_actions\":[");
        let allowed = self
            .iter()
            .filter(|(_, _, v)| v.kind == VerdictKind::Allowed);
        for (i, (atlas, a, v)) in allowed.enumerate() {
            comma(i, out);
            out.push('{');
            out.push_str(&a.wire.head);
            out.push_str(&a.wire.mid);
            out.push_str(",\"policy_id\":");
            write_policy_id(atlas, v.policy, out);
            out.push_str(&a.wire.tail);
            out.push('}');
        }
        out.push_str("],\"denied_actions\":[");
        let mut n = 0;
        for (atlas, a, v) in self.iter() {
            if let VerdictKind::Denied(reason) = v.kind {
                comma(n, out);
                n += 1;
                out.push('{');
                out.push_str(&a.wire.head);
                out.push_str(",\"reason_code\":");
                write_string(reason.code(), out);
                out.push_str(",\"reason\":");
                write_reason(atlas, a, v, out);
                out.push_str(",\"policy_id\":");
                write_policy_id(atlas, v.policy, out);
                out.push('}');
            }
        }
        out.push_str("],\"pending_actions\":[");
        let pending = self
            .iter()
            .filter(|(_, _, v)| v.kind == VerdictKind::Pending);
        for (i, (atlas, a, v)) in pending.enumerate() {
            comma(i, out);
            out.push('{');
            out.push_str(&a.wire.head);
            out.push_str(",\"reason\":");
            write_reason(atlas, a, v, out);
            out.push_str(",\"policy_id\":");
            write_policy_id(atlas, v.policy, out);
            out.push_str(",\"approval_id\":");
            write_opt(self.approval_id.as_deref(), out);
            out.push('}');
        }
        out.push_str("],\"constraints\":[");
        self.write_constraints(out);
        out.push(']');
        let _ = write!(out, ",\"ttl_seconds\":{}", self.ttl_seconds);
        out.push_str(",\"trace_id\":");
        write_string(&self.trace_id, out);
        out.push('}');
    }
}

impl Resolution {
    /// The members of `constraints`: the same entries, members and order as
    /// [`Resolution::constraints`] (the reference), written without building JSON values.
    fn write_constraints(&self, out: &mut String) {
        let mut n = 0;
        let mut next = |out: &mut String| {
            comma(n, out);
            n += 1;
        };
        let rate = |out: &mut String, action: &str, policy: Option<&str>, rl: &RateLimitSpec| {
            out.push_str("{\"type\":\"rate_limit\",\"action_id\":");
            write_string(action, out);
            out.push_str(",\"policy_id\":");
            write_opt(policy, out);
            let per = match rl.per {
                RateScope::Session => "session",
                RateScope::Agent => "agent",
                RateScope::Global => "global",
            };
            let _ = write!(
                out,
                ",\"max_calls\":{},\"window_seconds\":{},\"per\":\"{per}\"}}",
                rl.max_calls, rl.window_seconds
            );
        };
        for (atlas, action, v) in self.iter() {
            if v.kind != VerdictKind::Allowed && v.kind != VerdictKind::Pending {
                continue;
            }
            if let Some(rl) = &action.rate_limit {
                next(out);
                rate(out, &action.id, None, rl);
            }
            for &pi in action.rate.iter() {
                let pol = &atlas.policies[pi as usize];
                if let (Some(rl), true) = (&pol.rate_limit, pol.conditions.holds(&self.eval_ctx()))
                {
                    next(out);
                    rate(out, &action.id, Some(&pol.id), rl);
                }
            }
            if action.requires_confirmation {
                next(out);
                out.push_str("{\"type\":\"requires_confirmation\",\"action_id\":");
                write_string(&action.id, out);
                out.push('}');
            }
            if let Some(t) = action.timeout_seconds {
                next(out);
                out.push_str("{\"type\":\"timeout\",\"action_id\":");
                write_string(&action.id, out);
                let _ = write!(out, ",\"seconds\":{t}}}");
            }
        }
    }
}

fn comma(i: usize, out: &mut String) {
    if i > 0 {
        out.push(',');
    }
}

fn write_opt(s: Option<&str>, out: &mut String) {
    match s {
        Some(s) => write_string(s, out),
        None => out.push_str("null"),
    }
}

fn write_policy_id(atlas: &CompiledAtlas, policy: u32, out: &mut String) {
    if policy == NO_POLICY {
        out.push_str("null");
    } else {
        out.push_str(&atlas.policies[policy as usize].id_json);
    }
}

/// The policy's own reason when it gives one, else the generated text (as in `Serialize`).
fn write_reason(
    atlas: &CompiledAtlas,
    action: &crate::atlas::compile::CompiledAction,
    v: super::resolution::Verdict,
    out: &mut String,
) {
    if v.policy != NO_POLICY {
        if let Some(r) = &atlas.policies[v.policy as usize].reason_json {
            out.push_str(r);
            return;
        }
    }
    write_string(&Resolution::deny_reason_text(atlas, action, v), out);
}
