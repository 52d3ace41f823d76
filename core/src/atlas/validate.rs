//! Full atlas validation: reads a JSON document into an [`AtlasManifest`], reporting every
//! problem (stable code + JSON pointer) rather than stopping at the first.

use super::files::PackFiles;
use super::model::*;
use super::walk::{child, index, Walker};
use crate::atlas::pattern::Pattern;
use crate::error::Problem;
use crate::protocol::RiskTier;
use serde_json::{Map, Value};
use std::collections::HashSet;

const TOP_KEYS: &[&str] = &[
    "atlas_version",
    "atlas_id",
    "version",
    "name",
    "description",
    "authors",
    "license",
    "homepage",
    "repository",
    "domains",
    "capabilities",
    "context_packs",
    "policies",
    "actions",
    "adapters",
    "dependencies",
    "metadata",
    "context_schema",
    "$schema",
];
const ACTION_KEYS: &[&str] = &[
    "action_id",
    "name",
    "description",
    "parameters_schema",
    "returns_schema",
    "risk_tier",
    "idempotent",
    "requires_confirmation",
    "timeout_seconds",
    "rate_limit",
    "examples",
];
const CAPABILITY_KEYS: &[&str] = &[
    "capability_id",
    "name",
    "description",
    "actions",
    "context_packs",
];
const PACK_KEYS: &[&str] = &[
    "pack_id",
    "name",
    "description",
    "content",
    "content_type",
    "files",
    "priority",
    "conditions",
    "max_tokens",
    "keywords",
];
const POLICY_KEYS: &[&str] = &[
    "policy_id",
    "type",
    "name",
    "description",
    "priority",
    "actions",
    "conditions",
    "parameters",
    "reason",
];
const CONDITION_KEYS: &[&str] = &[
    "risk_tiers",
    "agents",
    "capabilities",
    "context_matches",
    "time_window",
];
const WINDOW_KEYS: &[&str] = &["start", "end", "days", "timezone"];
const RATE_KEYS: &[&str] = &["max_calls", "window_seconds", "per"];
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Validates `doc` into a manifest. `base_dir` is the atlas directory (needed for pack `files`).
pub fn validate(
    doc: &Value,
    base_dir: Option<PackFiles<'_>>,
) -> Result<AtlasManifest, Vec<Problem>> {
    let mut w = Walker::default();
    let m = w.object(doc, "", "the atlas", TOP_KEYS);
    let manifest = m.map(|m| read_manifest(&mut w, m, base_dir));
    match manifest {
        Some(man) if w.problems.is_empty() => Ok(man),
        _ => Err(w.problems),
    }
}

fn read_manifest(
    w: &mut Walker,
    m: &Map<String, Value>,
    base_dir: Option<PackFiles<'_>>,
) -> AtlasManifest {
    let atlas_version = w.string(m, "atlas_version", "", true).unwrap_or_default();
    if m.contains_key("atlas_version")
        && atlas_version != ATLAS_VERSION
        && m["atlas_version"].is_string()
    {
        w.problem(
            "unsupported_version",
            "/atlas_version",
            format!("atlas_version {atlas_version:?} is not supported; use \"1.0\""),
        );
    }
    let atlas_id = w.string(m, "atlas_id", "", true).unwrap_or_default();
    if m.get("atlas_id").is_some_and(Value::is_string) && !is_reverse_dns(&atlas_id) {
        w.problem("invalid_id", "/atlas_id", format!("atlas_id {atlas_id:?} must be reverse-DNS: lowercase segments [a-z][a-z0-9-]* joined by dots, at least two"));
    }
    let version = w.string(m, "version", "", true).unwrap_or_default();
    if m.get("version").is_some_and(Value::is_string) && !is_semver(&version) {
        w.problem(
            "invalid_version",
            "/version",
            format!("version {version:?} is not SemVer 2.0 (e.g. 1.2.3 or 1.0.0-rc.1)"),
        );
    }
    let name = w.string(m, "name", "", true).unwrap_or_default();
    let n = name.chars().count();
    if m.get("name").is_some_and(Value::is_string) && !(1..=100).contains(&n) {
        w.problem(
            "invalid_length",
            "/name",
            format!("name has {n} characters; it must have 1 to 100"),
        );
    }
    let description = w.string(m, "description", "", true).unwrap_or_default();
    let n = description.chars().count();
    if n > 1000 {
        w.problem(
            "invalid_length",
            "/description",
            format!("description has {n} characters; the limit is 1000"),
        );
    }
    let mut extra = Map::new();
    for key in ["license", "homepage", "repository"] {
        if let Some(s) = w.string(m, key, "", false) {
            extra.insert(key.into(), Value::String(s));
        }
    }
    if let Some(d) = w.strings(m, "domains", "", false) {
        extra.insert("domains".into(), d.into_iter().map(Value::String).collect());
    }
    if let Some((authors, p)) = w.array(m, "authors", "") {
        for (i, a) in authors.iter().enumerate() {
            match a {
                Value::String(_) => {}
                Value::Object(_) => {
                    if let Some(o) =
                        w.object(a, &index(&p, i), "an author", &["name", "email", "url"])
                    {
                        w.string(o, "name", &index(&p, i), true);
                        w.string(o, "email", &index(&p, i), false);
                        w.string(o, "url", &index(&p, i), false);
                    }
                }
                _ => w.problem(
                    "invalid_type",
                    &index(&p, i),
                    "authors entries must be strings or objects".into(),
                ),
            }
        }
        extra.insert("authors".into(), Value::Array(authors.clone()));
    }
    for key in ["adapters", "metadata"] {
        if let Some(v) = m.get(key) {
            if v.is_object() {
                extra.insert(key.into(), v.clone());
            } else {
                w.problem(
                    "invalid_type",
                    &child("", key),
                    format!("{key} must be an object"),
                );
            }
        }
    }
    if let Some(v) = m.get("dependencies") {
        match v.as_object() {
            Some(deps) => {
                for (k, req) in deps {
                    if !is_reverse_dns(k) {
                        w.problem(
                            "invalid_id",
                            &child("/dependencies", k),
                            format!("dependency {k:?} is not a reverse-DNS atlas id"),
                        );
                    }
                    if !req.is_string() {
                        w.problem(
                            "invalid_type",
                            &child("/dependencies", k),
                            "a dependency's version requirement must be a string".into(),
                        );
                    }
                }
                extra.insert("dependencies".into(), v.clone());
            }
            None => w.problem(
                "invalid_type",
                "/dependencies",
                "dependencies must be an object of atlas id to version requirement".into(),
            ),
        }
    }

    let actions = read_list(w, m, "actions", read_action);
    let action_ids: HashSet<&str> = actions.iter().map(|a| a.action_id.as_str()).collect();
    dupes(
        w,
        actions.iter().map(|a| a.action_id.as_str()),
        "/actions",
        "action_id",
    );

    let packs = read_list(w, m, "context_packs", |w, v, p| {
        read_pack(w, v, p, base_dir)
    });
    dupes(
        w,
        packs.iter().map(|p| p.pack_id.as_str()),
        "/context_packs",
        "pack_id",
    );
    let pack_ids: HashSet<&str> = packs.iter().map(|p| p.pack_id.as_str()).collect();

    let capabilities = read_list(w, m, "capabilities", read_capability);
    dupes(
        w,
        capabilities.iter().map(|c| c.capability_id.as_str()),
        "/capabilities",
        "capability_id",
    );
    for (i, c) in capabilities.iter().enumerate() {
        for (j, a) in c.actions.iter().enumerate() {
            if !action_ids.contains(a.as_str()) {
                w.problem(
                    "unknown_reference",
                    &format!("/capabilities/{i}/actions/{j}"),
                    format!(
                        "capability {:?} lists action {a:?}, which this atlas does not declare",
                        c.capability_id
                    ),
                );
            }
        }
        for (j, pk) in c.context_packs.iter().enumerate() {
            if !pack_ids.contains(pk.as_str()) {
                w.problem("unknown_reference", &format!("/capabilities/{i}/context_packs/{j}"), format!("capability {:?} lists context pack {pk:?}, which this atlas does not declare", c.capability_id));
            }
        }
    }
    let cap_ids: HashSet<&str> = capabilities
        .iter()
        .map(|c| c.capability_id.as_str())
        .collect();

    let policies = read_list(w, m, "policies", read_policy);
    dupes(
        w,
        policies.iter().map(|p| p.policy_id.as_str()),
        "/policies",
        "policy_id",
    );
    for (i, pol) in policies.iter().enumerate() {
        if let Some(pats) = &pol.actions {
            for (j, pat) in pats.iter().enumerate() {
                let p = format!("/policies/{i}/actions/{j}");
                match Pattern::parse(pat) {
                    Err(msg) => w.problem("invalid_pattern", &p, msg),
                    Ok(compiled) => {
                        if !action_ids.iter().any(|a| compiled.matches(a)) {
                            w.problem("unmatched_pattern", &p, format!("pattern {pat:?} of policy {:?} matches no action of this atlas", pol.policy_id));
                        }
                    }
                }
            }
        }
        check_condition_refs(
            w,
            pol.conditions.as_ref(),
            &format!("/policies/{i}/conditions"),
            &cap_ids,
        );
    }
    for (i, pk) in packs.iter().enumerate() {
        check_condition_refs(
            w,
            pk.conditions.as_ref(),
            &format!("/context_packs/{i}/conditions"),
            &cap_ids,
        );
    }

    let context_schema = schema(w, m, "context_schema", "");
    if let Some(v) = m.get("$schema") {
        if !v.is_string() {
            w.problem(
                "invalid_type",
                "/$schema",
                "$schema must be a string (the editor schema's URL or path)".to_string(),
            );
        }
    }
    AtlasManifest {
        atlas_version,
        atlas_id,
        version,
        name,
        description,
        extra,
        context_schema,
        capabilities,
        context_packs: packs,
        policies,
        actions,
    }
}

fn check_condition_refs(w: &mut Walker, c: Option<&Conditions>, ptr: &str, caps: &HashSet<&str>) {
    let Some(c) = c else { return };
    if let Some(list) = &c.capabilities {
        for (j, cap) in list.iter().enumerate() {
            if !caps.contains(cap.as_str()) {
                w.problem(
                    "unknown_reference",
                    &format!("{ptr}/capabilities/{j}"),
                    format!("capability {cap:?} is not declared in this atlas"),
                );
            }
        }
    }
    if let Some(list) = &c.agents {
        for (j, a) in list.iter().enumerate() {
            if let Err(msg) = Pattern::parse(a) {
                w.problem("invalid_pattern", &format!("{ptr}/agents/{j}"), msg);
            }
        }
    }
}

fn read_list<T>(
    w: &mut Walker,
    m: &Map<String, Value>,
    key: &str,
    mut f: impl FnMut(&mut Walker, &Value, &str) -> Option<T>,
) -> Vec<T> {
    let Some((arr, p)) = w.array(m, key, "") else {
        return Vec::new();
    };
    arr.iter()
        .enumerate()
        .filter_map(|(i, v)| f(w, v, &index(&p, i)))
        .collect()
}

fn dupes<'a>(w: &mut Walker, ids: impl Iterator<Item = &'a str>, ptr: &str, field: &str) {
    let mut seen = HashSet::new();
    for (i, id) in ids.enumerate() {
        if !id.is_empty() && !seen.insert(id) {
            w.problem(
                "duplicate_id",
                &format!("{ptr}/{i}/{field}"),
                format!("{field} {id:?} is declared more than once"),
            );
        }
    }
}

fn read_action(w: &mut Walker, v: &Value, p: &str) -> Option<Action> {
    let m = w.object(v, p, "an action", ACTION_KEYS)?;
    let action_id = w.string(m, "action_id", p, true).unwrap_or_default();
    if m.get("action_id").is_some_and(Value::is_string) && !is_action_id(&action_id) {
        w.problem("invalid_id", &child(p, "action_id"), format!("action_id {action_id:?} must be lowercase dotted segments [a-z][a-z0-9_-]*, at least two (e.g. orders.refund)"));
    }
    let name = w.string(m, "name", p, true).unwrap_or_default();
    let description = w.string(m, "description", p, true).unwrap_or_default();
    let parameters_schema = schema(w, m, "parameters_schema", p);
    let returns_schema = schema(w, m, "returns_schema", p);
    let risk_tier = tier_field(w, m, "risk_tier", p).unwrap_or_default();
    let idempotent = w.boolean(m, "idempotent", p);
    let requires_confirmation = w.boolean(m, "requires_confirmation", p);
    let timeout_seconds = w
        .integer(m, "timeout_seconds", p, 1, 86_400, false)
        .map(|x| x as u32);
    let rate_limit = m
        .get("rate_limit")
        .and_then(|v| read_rate(w, v, &child(p, "rate_limit")));
    let examples = w
        .array(m, "examples", p)
        .map(|(a, _)| a.clone())
        .unwrap_or_default();
    Some(Action {
        action_id,
        name,
        description,
        parameters_schema,
        returns_schema,
        risk_tier,
        idempotent,
        requires_confirmation,
        timeout_seconds,
        rate_limit,
        examples,
    })
}

fn schema(w: &mut Walker, m: &Map<String, Value>, key: &str, p: &str) -> Option<Value> {
    let v = m.get(key)?;
    let ptr = child(p, key);
    if !v.is_object() && !v.is_boolean() {
        w.problem(
            "invalid_schema",
            &ptr,
            format!("{key} must be a JSON Schema (an object or a boolean)"),
        );
        return None;
    }
    if let Err(msg) = crate::atlas::params::check_schema(v) {
        w.problem(
            "invalid_schema",
            &ptr,
            format!("{key} is not a valid JSON Schema: {msg}"),
        );
        return None;
    }
    Some(v.clone())
}

fn tier_field(w: &mut Walker, m: &Map<String, Value>, key: &str, p: &str) -> Option<RiskTier> {
    let s = w.string(m, key, p, false)?;
    let t = RiskTier::parse(&s);
    if t.is_none() {
        w.problem(
            "invalid_value",
            &child(p, key),
            format!("risk tier {s:?} is not one of low, medium, high, critical"),
        );
    }
    t
}

fn read_rate(w: &mut Walker, v: &Value, p: &str) -> Option<RateLimitSpec> {
    let m = w.object(v, p, "a rate limit", RATE_KEYS)?;
    let max_calls = w.integer(m, "max_calls", p, 1, u32::MAX as i64, true);
    let window = w.integer(m, "window_seconds", p, 1, 31_622_400, true);
    let per = match w.string(m, "per", p, false).as_deref() {
        None | Some("session") => RateScope::Session,
        Some("agent") => RateScope::Agent,
        Some("global") => RateScope::Global,
        Some(other) => {
            w.problem(
                "invalid_value",
                &child(p, "per"),
                format!("per {other:?} is not one of session, agent, global"),
            );
            RateScope::Session
        }
    };
    Some(RateLimitSpec {
        max_calls: max_calls? as u32,
        window_seconds: window? as u32,
        per,
    })
}

fn read_capability(w: &mut Walker, v: &Value, p: &str) -> Option<Capability> {
    let m = w.object(v, p, "a capability", CAPABILITY_KEYS)?;
    let capability_id = w.string(m, "capability_id", p, true).unwrap_or_default();
    if capability_id.is_empty() && m.contains_key("capability_id") {
        w.problem(
            "invalid_id",
            &child(p, "capability_id"),
            "capability_id must not be empty".into(),
        );
    }
    Some(Capability {
        capability_id,
        name: w.string(m, "name", p, true).unwrap_or_default(),
        description: w.string(m, "description", p, false),
        actions: w.strings(m, "actions", p, false).unwrap_or_default(),
        context_packs: w.strings(m, "context_packs", p, false).unwrap_or_default(),
    })
}

fn read_pack(
    w: &mut Walker,
    v: &Value,
    p: &str,
    base_dir: Option<PackFiles<'_>>,
) -> Option<ContextPack> {
    let m = w.object(v, p, "a context pack", PACK_KEYS)?;
    let pack_id = w.string(m, "pack_id", p, true).unwrap_or_default();
    if pack_id.is_empty() && m.contains_key("pack_id") {
        w.problem(
            "invalid_id",
            &child(p, "pack_id"),
            "pack_id must not be empty".into(),
        );
    }
    let name = w.string(m, "name", p, true).unwrap_or_default();
    w.string(m, "description", p, false);
    let content = w.string(m, "content", p, false);
    let content_type = w.string(m, "content_type", p, false);
    let files = w.strings(m, "files", p, true);
    let mut blocks = Vec::new();
    match (content, files) {
        (Some(_), Some(_)) => w.problem(
            "conflicting_fields",
            p,
            format!("context pack {pack_id:?} has both content and files; use one"),
        ),
        (None, None) => w.problem(
            "missing_field",
            p,
            format!("context pack {pack_id:?} needs content or files"),
        ),
        (Some(c), None) => blocks.push(PackBlock {
            block_id: pack_id.clone(),
            content_type: content_type.unwrap_or_else(|| "text/plain".into()),
            content: c,
        }),
        (None, Some(files)) => {
            for (i, f) in files.iter().enumerate() {
                let fp = format!("{p}/files/{i}");
                let left =
                    super::files::MAX_PACK_FILES_TOTAL_BYTES.saturating_sub(w.pack_file_bytes);
                match super::files::read_pack_file(base_dir, f, left) {
                    Ok(text) => blocks.push({
                        w.pack_file_bytes += text.len() as u64;
                        PackBlock {
                            block_id: format!("{pack_id}/{f}"),
                            content_type: content_type
                                .clone()
                                .unwrap_or_else(|| content_type_for(f).into()),
                            content: text,
                        }
                    }),
                    Err((code, msg)) => w.problem(code, &fp, msg),
                }
            }
        }
    }
    let priority = w.integer(m, "priority", p, 0, 1000, false).unwrap_or(100) as u32;
    let conditions = m
        .get("conditions")
        .and_then(|c| read_conditions(w, c, &child(p, "conditions")));
    let max_tokens = w
        .integer(m, "max_tokens", p, 1, u32::MAX as i64, false)
        .map(|x| x as u32);
    let keywords = w.strings(m, "keywords", p, true).unwrap_or_default();
    Some(ContextPack {
        pack_id,
        name,
        blocks,
        priority,
        conditions,
        max_tokens,
        keywords,
    })
}

fn content_type_for(file: &str) -> &'static str {
    match file.rsplit('.').next() {
        Some("md") | Some("markdown") => "text/markdown",
        Some("json") => "application/json",
        Some("yaml") | Some("yml") => "application/yaml",
        Some("html") => "text/html",
        _ => "text/plain",
    }
}

fn read_policy(w: &mut Walker, v: &Value, p: &str) -> Option<Policy> {
    let m = w.object(v, p, "a policy", POLICY_KEYS)?;
    let policy_id = w.string(m, "policy_id", p, true).unwrap_or_default();
    if policy_id.is_empty() && m.contains_key("policy_id") {
        w.problem(
            "invalid_id",
            &child(p, "policy_id"),
            "policy_id must not be empty".into(),
        );
    }
    let ty = w.string(m, "type", p, true);
    let policy_type = match ty.as_deref() {
        Some("deny") => Some(PolicyType::Deny),
        Some("require_approval") => Some(PolicyType::RequireApproval),
        Some("rate_limit") => Some(PolicyType::RateLimit),
        Some("allow") => Some(PolicyType::Allow),
        Some("budget") => {
            w.problem(
                "unsupported_policy_type",
                &child(p, "type"),
                "policy type \"budget\" is not supported by this runtime yet".into(),
            );
            None
        }
        Some(other) => {
            w.problem(
                "invalid_value",
                &child(p, "type"),
                format!(
                    "policy type {other:?} is not one of deny, require_approval, rate_limit, allow"
                ),
            );
            None
        }
        None => None,
    };
    let name = w.string(m, "name", p, false);
    let description = w.string(m, "description", p, false);
    let priority = w
        .integer(m, "priority", p, -1_000_000, 1_000_000, false)
        .unwrap_or(0);
    let actions = w.strings(m, "actions", p, true);
    let conditions = m
        .get("conditions")
        .and_then(|c| read_conditions(w, c, &child(p, "conditions")));
    let reason = w.string(m, "reason", p, false);
    let pp = child(p, "parameters");
    let params = m.get("parameters");
    let mut rate_limit = None;
    let mut approval_timeout_seconds = None;
    match (policy_type, params) {
        (Some(PolicyType::RateLimit), Some(v)) => rate_limit = read_rate(w, v, &pp),
        (Some(PolicyType::RateLimit), None) => w.problem(
            "missing_field",
            p,
            format!(
                "rate_limit policy {policy_id:?} needs parameters {{max_calls, window_seconds}}"
            ),
        ),
        (Some(PolicyType::RequireApproval), Some(v)) => {
            if let Some(pm) = w.object(v, &pp, "require_approval parameters", &["timeout_seconds"])
            {
                approval_timeout_seconds = w
                    .integer(pm, "timeout_seconds", &pp, 1, 31_622_400, false)
                    .map(|x| x as u32);
            }
        }
        (Some(_), Some(v)) => {
            w.object(v, &pp, "parameters of this policy type", &[]);
        }
        _ => {}
    }
    Some(Policy {
        policy_id,
        policy_type: policy_type?,
        name,
        description,
        priority,
        actions,
        conditions,
        rate_limit,
        approval_timeout_seconds,
        reason,
    })
}

fn read_conditions(w: &mut Walker, v: &Value, p: &str) -> Option<Conditions> {
    let m = w.object(v, p, "conditions", CONDITION_KEYS)?;
    let risk_tiers = w.strings(m, "risk_tiers", p, true).map(|list| {
        list.iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let t = RiskTier::parse(s);
                if t.is_none() {
                    w.problem(
                        "invalid_value",
                        &format!("{p}/risk_tiers/{i}"),
                        format!("risk tier {s:?} is not one of low, medium, high, critical"),
                    );
                }
                t
            })
            .collect()
    });
    let agents = w.strings(m, "agents", p, true);
    let capabilities = w.strings(m, "capabilities", p, true);
    let context_matches = match m.get("context_matches") {
        None => None,
        Some(Value::Object(o)) => Some(o.clone()),
        Some(_) => {
            w.problem(
                "invalid_type",
                &child(p, "context_matches"),
                "context_matches must be an object of key to expected value".into(),
            );
            None
        }
    };
    let time_window = m
        .get("time_window")
        .and_then(|tw| read_window(w, tw, &child(p, "time_window")));
    Some(Conditions {
        risk_tiers,
        agents,
        capabilities,
        context_matches,
        time_window,
    })
}

fn read_window(w: &mut Walker, v: &Value, p: &str) -> Option<TimeWindow> {
    let m = w.object(v, p, "a time window", WINDOW_KEYS)?;
    let start = w
        .string(m, "start", p, true)
        .and_then(|s| hhmm(w, &s, &child(p, "start")));
    let end = w
        .string(m, "end", p, true)
        .and_then(|s| hhmm(w, &s, &child(p, "end")));
    let days = w.strings(m, "days", p, true).map(|list| {
        list.iter()
            .enumerate()
            .filter_map(|(i, d)| {
                let idx = DAYS
                    .iter()
                    .position(|x| x.eq_ignore_ascii_case(d) || full_day(x).eq_ignore_ascii_case(d));
                if idx.is_none() {
                    w.problem(
                        "invalid_value",
                        &format!("{p}/days/{i}"),
                        format!("day {d:?} is not one of mon, tue, wed, thu, fri, sat, sun"),
                    );
                }
                idx.map(|x| x as u32)
            })
            .collect()
    });
    let tz = w.string(m, "timezone", p, false);
    let utc_offset_seconds = match tz.as_deref() {
        None | Some("UTC") | Some("Z") | Some("utc") => 0,
        Some(s) => match parse_offset(s) {
            Some(o) => o,
            None => {
                w.problem(
                    "invalid_value",
                    &child(p, "timezone"),
                    format!("timezone {s:?} must be \"UTC\" or a fixed offset like \"+05:30\""),
                );
                0
            }
        },
    };
    Some(TimeWindow {
        start_minute: start?,
        end_minute: end?,
        days,
        utc_offset_seconds,
    })
}

fn full_day(abbrev: &str) -> &'static str {
    match abbrev {
        "mon" => "monday",
        "tue" => "tuesday",
        "wed" => "wednesday",
        "thu" => "thursday",
        "fri" => "friday",
        "sat" => "saturday",
        _ => "sunday",
    }
}

fn hhmm(w: &mut Walker, s: &str, p: &str) -> Option<u32> {
    let b = s.as_bytes();
    let ok = b.len() == 5 && b[2] == b':' && [0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit());
    let (h, m) = if ok {
        (
            ((b[0] - b'0') * 10 + (b[1] - b'0')) as u32,
            ((b[3] - b'0') * 10 + (b[4] - b'0')) as u32,
        )
    } else {
        (99, 99)
    };
    if h > 24 || m > 59 || (h == 24 && m != 0) {
        w.problem(
            "invalid_value",
            p,
            format!("time {s:?} must be HH:MM between 00:00 and 24:00"),
        );
        return None;
    }
    Some(h * 60 + m)
}

fn parse_offset(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 6 || !matches!(b[0], b'+' | b'-') || b[3] != b':' {
        return None;
    }
    let d = |i: usize| (b[i] as char).to_digit(10).map(|x| x as i64);
    let (h, m) = (d(1)? * 10 + d(2)?, d(4)? * 10 + d(5)?);
    if h > 23 || m > 59 {
        return None;
    }
    Some(if b[0] == b'-' {
        -(h * 3600 + m * 60)
    } else {
        h * 3600 + m * 60
    })
}

/// `[a-z][a-z0-9-]*` segments joined by dots, at least two.
pub fn is_reverse_dns(s: &str) -> bool {
    let segs: Vec<&str> = s.split('.').collect();
    segs.len() >= 2
        && segs.iter().all(|seg| {
            seg.starts_with(|c: char| c.is_ascii_lowercase())
                && seg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

/// `[a-z][a-z0-9_-]*` segments joined by dots, at least two.
pub fn is_action_id(s: &str) -> bool {
    let segs: Vec<&str> = s.split('.').collect();
    segs.len() >= 2
        && segs.iter().all(|seg| {
            seg.starts_with(|c: char| c.is_ascii_lowercase())
                && seg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        })
}

/// Full SemVer 2.0: MAJOR.MINOR.PATCH, optional `-pre.release` and `+build.meta`.
pub fn is_semver(s: &str) -> bool {
    let (rest, build) = match s.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (s, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let nums: Vec<&str> = core.split('.').collect();
    let numeric = |x: &str| {
        !x.is_empty() && x.chars().all(|c| c.is_ascii_digit()) && (x == "0" || !x.starts_with('0'))
    };
    let ident = |x: &str| !x.is_empty() && x.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    nums.len() == 3
        && nums.iter().all(|n| numeric(n))
        && pre.is_none_or(|p| {
            p.split('.')
                .all(|i| ident(i) && (!i.chars().all(|c| c.is_ascii_digit()) || numeric(i)))
        })
        && build.is_none_or(|b| b.split('.').all(ident))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_rules() {
        for ok in [
            "1.0.0",
            "0.1.2",
            "1.0.0-rc.1",
            "1.0.0-alpha-1+build.5",
            "10.20.30",
        ] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in [
            "1.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0+", "v1.0.0", "1.0.0.0",
        ] {
            assert!(!is_semver(bad), "{bad}");
        }
    }

    #[test]
    fn ids() {
        assert!(is_reverse_dns("com.example.support"));
        assert!(!is_reverse_dns("example"));
        assert!(!is_reverse_dns("Com.example"));
        assert!(is_action_id("orders.refund"));
        assert!(is_action_id("orders.get_status"));
        assert!(!is_action_id("refund"));
        assert!(!is_action_id("Orders.refund"));
    }
}
