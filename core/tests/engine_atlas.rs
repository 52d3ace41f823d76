//! protocol.md §1: atlas validation (every problem, stable code, JSON pointer), atomic load, replace.

mod common;
use common::*;
use cra_core::ErrorCode;
use serde_json::{json, Value};

/// A valid base atlas the cases below break in exactly one place.
fn base() -> Value {
    let mut a = atlas(
        "com.acme.shop",
        &["orders.get", "orders.refund"],
        vec![
            policy("allow-get", "allow", Some(&["orders.get"])),
            policy_with(
                "tiers",
                "deny",
                Some(&["orders.refund"]),
                json!({"conditions": {"risk_tiers": ["high"]}}),
            ),
        ],
    );
    a["capabilities"] =
        json!([{"capability_id": "read", "name": "Read", "actions": ["orders.get"]}]);
    a["context_packs"] = json!([{"pack_id": "guide", "name": "Guide", "content": "hello"}]);
    a
}

fn problems(e: &cra_core::CraError) -> Vec<(String, String)> {
    e.details
        .iter()
        .map(|p| (p.code.to_string(), p.pointer.clone()))
        .collect()
}

fn expect_one(name: &str, atlas: Value, code: &str, pointer: &str) {
    let (r, _) = resolver();
    let e = load_err(&r, &atlas);
    assert_eq!(e.code, ErrorCode::InvalidAtlas, "{name}");
    assert_eq!(
        problems(&e),
        vec![(code.to_string(), pointer.to_string())],
        "{name}: {e}"
    );
    assert_eq!(
        e.pointer.as_deref(),
        Some(pointer),
        "{name}: top-level pointer is the first problem's"
    );
    assert!(r.atlases().is_empty(), "{name}: nothing loaded");
}

#[test]
fn base_atlas_is_valid() {
    let (r, _) = resolver();
    let info = r
        .load_atlas_json(&serde_json::to_vec(&base()).unwrap())
        .unwrap();
    assert_eq!(
        (
            info.atlas_id.as_str(),
            info.actions,
            info.policies,
            info.context_packs,
            info.capabilities,
            info.replaced
        ),
        ("com.acme.shop", 2, 2, 1, 1, false)
    );
}

macro_rules! case {
    ($name:ident, |$a:ident| $mutate:block, $code:expr, $ptr:expr) => {
        #[test]
        fn $name() {
            let mut $a = base();
            $mutate
            expect_one(stringify!($name), $a, $code, $ptr);
        }
    };
}

case!(
    unknown_top_level_field,
    |a| {
        a["polices"] = json!([]);
    },
    "unknown_field",
    "/polices"
);
case!(
    unknown_field_in_action,
    |a| {
        a["actions"][1]["nmae"] = json!("x");
    },
    "unknown_field",
    "/actions/1/nmae"
);
case!(
    unknown_field_in_conditions,
    |a| {
        a["policies"][1]["conditions"]["agent"] = json!(["x"]);
    },
    "unknown_field",
    "/policies/1/conditions/agent"
);
case!(
    unknown_field_with_slash_is_escaped,
    |a| {
        a["metadata"] = json!({});
        a["a/b~c"] = json!(1);
    },
    "unknown_field",
    "/a~1b~0c"
);
case!(
    missing_atlas_id,
    |a| {
        a.as_object_mut().unwrap().remove("atlas_id");
    },
    "missing_field",
    ""
);
case!(
    missing_action_name,
    |a| {
        a["actions"][0].as_object_mut().unwrap().remove("name");
    },
    "missing_field",
    "/actions/0"
);
case!(
    missing_policy_type,
    |a| {
        a["policies"][0].as_object_mut().unwrap().remove("type");
    },
    "missing_field",
    "/policies/0"
);
case!(
    atlas_id_not_reverse_dns,
    |a| {
        a["atlas_id"] = json!("shop");
    },
    "invalid_id",
    "/atlas_id"
);
case!(
    atlas_id_uppercase,
    |a| {
        a["atlas_id"] = json!("com.Acme.shop");
    },
    "invalid_id",
    "/atlas_id"
);
case!(
    version_not_semver,
    |a| {
        a["version"] = json!("1.0");
    },
    "invalid_version",
    "/version"
);
case!(
    version_leading_zero,
    |a| {
        a["version"] = json!("1.02.0");
    },
    "invalid_version",
    "/version"
);
case!(
    unsupported_atlas_version,
    |a| {
        a["atlas_version"] = json!("2.0");
    },
    "unsupported_version",
    "/atlas_version"
);
case!(
    name_too_long,
    |a| {
        a["name"] = json!("n".repeat(101));
    },
    "invalid_length",
    "/name"
);
case!(
    description_too_long,
    |a| {
        a["description"] = json!("d".repeat(1001));
    },
    "invalid_length",
    "/description"
);
case!(
    action_id_single_segment,
    |a| {
        a["actions"][1]["action_id"] = json!("refund");
        a["policies"][1]["actions"] = json!(["refund"]);
    },
    "invalid_id",
    "/actions/1/action_id"
);
case!(
    duplicate_action_id,
    |a| {
        a["actions"][1]["action_id"] = json!("orders.get");
        a["policies"][1]["actions"] = json!(["orders.get"]);
    },
    "duplicate_id",
    "/actions/1/action_id"
);
case!(
    duplicate_policy_id,
    |a| {
        a["policies"][1]["policy_id"] = json!("allow-get");
    },
    "duplicate_id",
    "/policies/1/policy_id"
);
case!(
    unknown_capability_in_conditions,
    |a| {
        a["policies"][0]["conditions"] = json!({"capabilities": ["read", "write"]});
    },
    "unknown_reference",
    "/policies/0/conditions/capabilities/1"
);
case!(
    capability_lists_unknown_action,
    |a| {
        a["capabilities"][0]["actions"] = json!(["orders.get", "orders.ship"]);
    },
    "unknown_reference",
    "/capabilities/0/actions/1"
);
case!(
    capability_lists_unknown_pack,
    |a| {
        a["capabilities"][0]["context_packs"] = json!(["nope"]);
    },
    "unknown_reference",
    "/capabilities/0/context_packs/0"
);
case!(
    pattern_matches_no_action,
    |a| {
        a["policies"][0]["actions"] = json!(["orders.get", "users.*"]);
    },
    "unmatched_pattern",
    "/policies/0/actions/1"
);
case!(
    pattern_is_case_sensitive_so_matches_nothing,
    |a| {
        a["policies"][0]["actions"] = json!(["Orders.*"]);
    },
    "unmatched_pattern",
    "/policies/0/actions/0"
);
case!(
    empty_action_pattern_list,
    |a| {
        a["policies"][0]["actions"] = json!([]);
    },
    "empty_list",
    "/policies/0/actions"
);
case!(
    bad_action_risk_tier,
    |a| {
        a["actions"][0]["risk_tier"] = json!("extreme");
    },
    "invalid_value",
    "/actions/0/risk_tier"
);
case!(
    bad_condition_risk_tier,
    |a| {
        a["policies"][1]["conditions"]["risk_tiers"] = json!(["high", "HIGH"]);
    },
    "invalid_value",
    "/policies/1/conditions/risk_tiers/1"
);
case!(
    bad_time_window_hour,
    |a| {
        a["policies"][1]["conditions"]["time_window"] = json!({"start": "25:00", "end": "17:00"});
    },
    "invalid_value",
    "/policies/1/conditions/time_window/start"
);
case!(
    bad_time_window_format,
    |a| {
        a["policies"][1]["conditions"]["time_window"] = json!({"start": "09:00", "end": "5pm"});
    },
    "invalid_value",
    "/policies/1/conditions/time_window/end"
);
case!(
    bad_time_window_day,
    |a| {
        a["policies"][1]["conditions"]["time_window"] =
            json!({"start": "09:00", "end": "17:00", "days": ["mon", "funday"]});
    },
    "invalid_value",
    "/policies/1/conditions/time_window/days/1"
);
case!(
    bad_time_window_timezone,
    |a| {
        a["policies"][1]["conditions"]["time_window"] =
            json!({"start": "09:00", "end": "17:00", "timezone": "Europe/Paris"});
    },
    "invalid_value",
    "/policies/1/conditions/time_window/timezone"
);
case!(
    time_window_missing_end,
    |a| {
        a["policies"][1]["conditions"]["time_window"] = json!({"start": "09:00"});
    },
    "missing_field",
    "/policies/1/conditions/time_window"
);
case!(
    rate_limit_without_parameters,
    |a| {
        a["policies"]
            .as_array_mut()
            .unwrap()
            .push(policy("rl", "rate_limit", None));
    },
    "missing_field",
    "/policies/2"
);
case!(
    rate_limit_missing_window,
    |a| {
        a["policies"].as_array_mut().unwrap().push(policy_with(
            "rl",
            "rate_limit",
            None,
            json!({"parameters": {"max_calls": 3}}),
        ));
    },
    "missing_field",
    "/policies/2/parameters"
);
case!(
    rate_limit_bad_per,
    |a| {
        a["policies"].as_array_mut().unwrap().push(policy_with(
            "rl",
            "rate_limit",
            None,
            json!({"parameters": {"max_calls": 3, "window_seconds": 60, "per": "planet"}}),
        ));
    },
    "invalid_value",
    "/policies/2/parameters/per"
);
case!(
    rate_limit_zero_calls,
    |a| {
        a["actions"][0]["rate_limit"] = json!({"max_calls": 0, "window_seconds": 60});
    },
    "out_of_range",
    "/actions/0/rate_limit/max_calls"
);
case!(
    budget_policy_unsupported,
    |a| {
        a["policies"]
            .as_array_mut()
            .unwrap()
            .push(policy("b", "budget", None));
    },
    "unsupported_policy_type",
    "/policies/2/type"
);
case!(
    unknown_policy_type,
    |a| {
        a["policies"][0]["type"] = json!("permit");
    },
    "invalid_value",
    "/policies/0/type"
);
case!(
    allow_policy_with_parameters,
    |a| {
        a["policies"][0]["parameters"] = json!({"max_calls": 1});
    },
    "unknown_field",
    "/policies/0/parameters/max_calls"
);
case!(
    pack_with_content_and_files,
    |a| {
        a["context_packs"][0]["files"] = json!(["a.md"]);
    },
    "conflicting_fields",
    "/context_packs/0"
);
case!(
    pack_with_neither_content_nor_files,
    |a| {
        a["context_packs"][0]
            .as_object_mut()
            .unwrap()
            .remove("content");
    },
    "missing_field",
    "/context_packs/0"
);
case!(
    pack_files_without_directory,
    |a| {
        a["context_packs"][0]
            .as_object_mut()
            .unwrap()
            .remove("content");
        a["context_packs"][0]["files"] = json!(["a.md"]);
    },
    "files_need_directory",
    "/context_packs/0/files/0"
);
case!(
    pack_priority_out_of_range,
    |a| {
        a["context_packs"][0]["priority"] = json!(1001);
    },
    "out_of_range",
    "/context_packs/0/priority"
);
case!(
    invalid_parameters_schema,
    |a| {
        a["actions"][0]["parameters_schema"] = json!({"type": "nope"});
    },
    "invalid_schema",
    "/actions/0/parameters_schema"
);
case!(
    parameters_schema_not_an_object,
    |a| {
        a["actions"][0]["parameters_schema"] = json!(3);
    },
    "invalid_schema",
    "/actions/0/parameters_schema"
);
case!(
    wrong_type_for_priority,
    |a| {
        a["policies"][0]["priority"] = json!("high");
    },
    "invalid_type",
    "/policies/0/priority"
);
case!(
    empty_agent_pattern,
    |a| {
        a["policies"][0]["conditions"] = json!({"agents": ["ok-*", ""]});
    },
    "invalid_pattern",
    "/policies/0/conditions/agents/1"
);

#[test]
fn not_an_object_and_not_json() {
    let (r, _) = resolver();
    let e = r.load_atlas_json(b"[1,2]").unwrap_err();
    assert_eq!(
        (e.code, problems(&e)),
        (
            ErrorCode::InvalidAtlas,
            vec![("invalid_type".to_string(), String::new())]
        )
    );
    let e = r.load_atlas_json(b"{\"atlas_id\": ").unwrap_err();
    assert_eq!(
        (e.code, problems(&e)),
        (
            ErrorCode::InvalidAtlas,
            vec![("malformed_json".to_string(), String::new())]
        )
    );
}

#[test]
fn every_problem_is_reported_in_document_order() {
    let mut a = base();
    a["version"] = json!("one");
    a["actions"][0]["risk_tier"] = json!("extreme");
    a["policies"][1]["nmae"] = json!("x");
    let (r, _) = resolver();
    let e = load_err(&r, &a);
    assert_eq!(
        problems(&e),
        vec![
            ("invalid_version".into(), "/version".into()),
            ("invalid_value".into(), "/actions/0/risk_tier".into()),
            ("unknown_field".into(), "/policies/1/nmae".into())
        ]
    );
    assert!(e.message.contains("and 2 more problems"), "{}", e.message);
    assert_eq!(e.pointer.as_deref(), Some("/version"));
}

// ---------- files, directories, escapes ----------

fn dir_atlas(files: &[&str]) -> Value {
    let mut a = allow_all("com.acme.files", &["f.read"]);
    a["context_packs"] = json!([{"pack_id": "docs", "name": "Docs", "files": files}]);
    a
}

#[test]
fn files_are_read_from_the_atlas_directory() {
    let dir = temp_dir("atlas-ok");
    std::fs::write(dir.join("guide.md"), "# guide").unwrap();
    std::fs::write(
        dir.join("atlas.json"),
        serde_json::to_vec(&dir_atlas(&["guide.md"])).unwrap(),
    )
    .unwrap();
    let (r, _) = resolver();
    r.load_atlas_dir(&dir).unwrap();
    let w = wire(&r.resolve(req("ag", "s", "g")).unwrap());
    assert_eq!(w["context_blocks"][0]["content"], "# guide");
    assert_eq!(w["context_blocks"][0]["block_id"], "docs/guide.md");
    // the file itself can be given instead of the directory
    let (r2, _) = resolver();
    r2.load_atlas_dir(dir.join("atlas.json")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_directory_is_io_error() {
    let (r, _) = resolver();
    let e = r
        .load_atlas_dir(std::env::temp_dir().join("cra-core-test-does-not-exist-9f3"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::IoError);
}

#[test]
fn dotdot_path_escape_is_refused() {
    let dir = temp_dir("atlas-dotdot");
    std::fs::write(
        dir.join("atlas.json"),
        serde_json::to_vec(&dir_atlas(&["ok.md", "../secret.txt"])).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("ok.md"), "ok").unwrap();
    std::fs::write(dir.parent().unwrap().join("secret.txt"), "secret").unwrap_or(());
    let (r, _) = resolver();
    let e = r.load_atlas_dir(&dir).unwrap_err();
    assert_eq!(
        (e.code, problems(&e)),
        (
            ErrorCode::InvalidAtlas,
            vec![(
                "path_escape".to_string(),
                "/context_packs/0/files/1".to_string()
            )]
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn absolute_path_is_refused() {
    let dir = temp_dir("atlas-abs");
    std::fs::write(
        dir.join("atlas.json"),
        serde_json::to_vec(&dir_atlas(&["/etc/hostname"])).unwrap(),
    )
    .unwrap();
    let (r, _) = resolver();
    let e = r.load_atlas_dir(&dir).unwrap_err();
    assert_eq!(
        problems(&e),
        vec![(
            "path_escape".to_string(),
            "/context_packs/0/files/0".to_string()
        )]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn symlink_escape_is_refused_but_inner_symlink_is_fine() {
    let outside = temp_dir("atlas-outside");
    std::fs::write(outside.join("secret.txt"), "secret").unwrap();
    let dir = temp_dir("atlas-symlink");
    std::fs::write(dir.join("real.md"), "real").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), dir.join("leak.md")).unwrap();
    std::os::unix::fs::symlink(dir.join("real.md"), dir.join("alias.md")).unwrap();
    std::fs::write(
        dir.join("atlas.json"),
        serde_json::to_vec(&dir_atlas(&["alias.md", "leak.md"])).unwrap(),
    )
    .unwrap();
    let (r, _) = resolver();
    let e = r.load_atlas_dir(&dir).unwrap_err();
    assert_eq!(
        problems(&e),
        vec![(
            "path_escape".to_string(),
            "/context_packs/0/files/1".to_string()
        )]
    );
    std::fs::write(
        dir.join("atlas.json"),
        serde_json::to_vec(&dir_atlas(&["alias.md"])).unwrap(),
    )
    .unwrap();
    r.load_atlas_dir(&dir).unwrap();
    assert_eq!(
        wire(&r.resolve(req("ag", "s", "g")).unwrap())["context_blocks"][0]["content"],
        "real"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&outside);
}

#[test]
fn missing_file_is_reported() {
    let dir = temp_dir("atlas-missing");
    std::fs::write(
        dir.join("atlas.json"),
        serde_json::to_vec(&dir_atlas(&["nope.md"])).unwrap(),
    )
    .unwrap();
    let (r, _) = resolver();
    assert_eq!(
        problems(&r.load_atlas_dir(&dir).unwrap_err()),
        vec![(
            "file_not_found".to_string(),
            "/context_packs/0/files/0".to_string()
        )]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------- atomic load, replace ----------

#[test]
fn failed_load_leaves_previous_atlases_serving() {
    let (r, _) = resolver();
    load(&r, &allow_all("com.a.one", &["a.x"]));
    load(&r, &allow_all("com.b.two", &["b.x"]));
    let before =
        serde_json::to_string(&wire(&r.resolve(req("ag", "s", "g")).unwrap())["allowed_actions"])
            .unwrap();
    // a broken replacement of an existing atlas
    let mut bad = allow_all("com.a.one", &["a.y"]);
    bad["policies"][0]["type"] = json!("budget");
    load_err(&r, &bad);
    // a broken new atlas
    let mut bad2 = allow_all("com.c.three", &["c.x"]);
    bad2["actions"][0]["risk_tier"] = json!("huge");
    load_err(&r, &bad2);
    assert_eq!(
        r.atlases(),
        vec![
            ("com.a.one".into(), "1.0.0".into()),
            ("com.b.two".into(), "1.0.0".into())
        ]
    );
    let after =
        serde_json::to_string(&wire(&r.resolve(req("ag", "s", "g")).unwrap())["allowed_actions"])
            .unwrap();
    assert_eq!(before, after);
}

#[test]
fn loading_the_same_id_replaces_it() {
    let (r, _) = resolver();
    load(&r, &allow_all("com.a.one", &["a.x"]));
    let old = r.resolve(req("ag", "s", "g")).unwrap();
    let mut v2 = atlas(
        "com.a.one",
        &["a.x", "a.y"],
        vec![policy("only-y", "allow", Some(&["a.y"]))],
    );
    v2["version"] = json!("1.1.0-rc.1+build.7");
    let info = r
        .load_atlas_json(&serde_json::to_vec(&v2).unwrap())
        .unwrap();
    assert!(info.replaced);
    assert_eq!(
        (info.version.as_str(), info.actions),
        ("1.1.0-rc.1+build.7", 2)
    );
    assert_eq!(r.atlases().len(), 1);
    let (a, d, _) = verdicts(&r, req("ag", "s", "g"));
    assert_eq!((a, d), (s(&["a.y"]), s(&["a.x"])));
    // a resolution computed before the swap lists what it saw, but revocation is immediate
    // (protocol.md §6): executing a.x is judged against the atlas loaded now
    assert_eq!(old.allowed_action_ids(), vec!["a.x"]);
    let ans = r
        .execute(exec("ag", "s", &old.resolution_id, "a.x", json!({})))
        .unwrap();
    assert_eq!(ans.status, cra_core::ExecuteStatus::Denied);
    assert_eq!(ans.reason_code, Some("default_deny"));
    assert_eq!(r.check("s", "a.x"), cra_core::FastVerdict::Denied);
}
