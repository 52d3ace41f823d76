//! Unit tests of the validator: pointers, references, bounds, refusals. Keyword-by-keyword
//! correctness is `core/tests/json_schema_suite.rs` (the official test suite).

use super::Schema;
use serde_json::{json, Value};

fn check(schema: &Value, v: &Value) -> Result<(), String> {
    Schema::compile(schema)
        .expect("supported schema")
        .validate(v)
        .map_err(|(p, _)| p)
}

fn refund() -> Value {
    json!({"type": "object", "required": ["order_id", "amount"], "additionalProperties": false,
           "properties": {"order_id": {"type": "string", "minLength": 3, "pattern": "^o-"},
                          "amount": {"type": "number", "minimum": 0, "multipleOf": 0.01},
                          "items": {"type": "array", "items": {"type": "integer"}},
                          "meta": {"patternProperties": {"^a": {"type": "integer"}},
                                   "additionalProperties": {"type": "string"}}}})
}

#[test]
fn failures_point_at_the_offending_value() {
    let s = refund();
    assert_eq!(
        check(&s, &json!({"order_id": "o-1", "amount": 19.99})),
        Ok(())
    );
    for (v, ptr) in [
        (json!({"order_id": "o-1"}), ""),
        (json!({"order_id": "o-1", "amount": "ten"}), "/amount"),
        (json!({"order_id": "o-1", "amount": 1.005}), "/amount"),
        (json!({"order_id": "x-1", "amount": 1}), "/order_id"),
        (
            json!({"order_id": "o-1", "amount": 1, "extra": 1}),
            "/extra",
        ),
        (
            json!({"order_id": "o-1", "amount": 1, "items": [1, "two"]}),
            "/items/1",
        ),
        (
            json!({"order_id": "o-1", "amount": 1, "meta": {"ab": "x"}}),
            "/meta/ab",
        ),
        (
            json!({"order_id": "o-1", "amount": 1, "meta": {"a/b~": "x"}}),
            "/meta/a~1b~0",
        ),
        (
            json!({"order_id": "o-1", "amount": 1, "meta": {"c": 1}}),
            "/meta/c",
        ),
    ] {
        assert_eq!(check(&s, &v), Err(ptr.to_string()), "{v}");
    }
}

/// What pydantic (LangChain, the OpenAI Agents SDK, MCP servers) generates for a model with a
/// nested model, an optional field and a list of models.
#[test]
fn pydantic_schemas_load_and_validate() {
    let s = json!({"$defs": {"Address": {"properties": {"city": {"title": "City", "type": "string"},
                                         "zip": {"anyOf": [{"type": "string", "pattern": "^[0-9]{5}$"}, {"type": "null"}], "default": null, "title": "Zip"}},
                                         "required": ["city"], "title": "Address", "type": "object"}},
                   "properties": {"ship_to": {"$ref": "#/$defs/Address"},
                                  "bill_to": {"anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}], "default": null},
                                  "when": {"anyOf": [{"format": "date-time", "type": "string"}, {"type": "null"}], "default": null},
                                  "email": {"format": "email", "title": "Email", "type": "string"}},
                   "required": ["ship_to", "email"], "title": "CreateOrder", "type": "object"});
    let ok = json!({"ship_to": {"city": "X", "zip": "12345"}, "bill_to": null, "email": "a@b.example", "when": "2026-12-03T10:00:00Z"});
    assert_eq!(check(&s, &ok), Ok(()));
    let mut bad = ok.clone();
    bad["ship_to"]["zip"] = json!("1234");
    assert_eq!(check(&s, &bad), Err("/ship_to/zip".into()));
    bad = ok.clone();
    bad["ship_to"]["city"] = json!(1);
    assert_eq!(check(&s, &bad), Err("/ship_to/city".into()));
    bad = ok.clone();
    bad["email"] = json!("not an address");
    assert_eq!(check(&s, &bad), Err("/email".into()));
    bad = ok.clone();
    bad["when"] = json!("yesterday");
    assert_eq!(check(&s, &bad), Err("/when".into()));
}

#[test]
fn references_resolve_inside_the_root() {
    let tree = json!({"type": "object", "properties": {"v": {"type": "integer"},
                      "kids": {"type": "array", "items": {"$ref": "#"}}}});
    assert_eq!(
        check(&tree, &json!({"v": 1, "kids": [{"v": 2, "kids": []}]})),
        Ok(())
    );
    assert_eq!(
        check(
            &tree,
            &json!({"v": 1, "kids": [{"v": 2, "kids": [{"v": "x"}]}]})
        ),
        Err("/kids/0/kids/0/v".into())
    );
    let legacy = json!({"definitions": {"a b": {"maximum": 3}}, "properties": {"n": {"$ref": "#/definitions/a%20b"}}});
    assert_eq!(check(&legacy, &json!({"n": 4})), Err("/n".into()));
    let pointer = json!({"properties": {"a": {"type": "string"}, "b": {"$ref": "#/properties/a"}}});
    assert_eq!(check(&pointer, &json!({"b": 4})), Err("/b".into()));
}

#[test]
fn reference_cycles_fail_closed_instead_of_recursing_forever() {
    for s in [
        json!({"$ref": "#"}),
        json!({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}),
        json!({"anyOf": [{"$ref": "#"}, {"type": "string"}]}),
    ] {
        let compiled = Schema::compile(&s).expect("a cycle compiles");
        let err = compiled.validate(&json!(1)).expect_err("and fails closed");
        assert!(
            s.get("anyOf").is_some() || err.1.contains("deeper than"),
            "{s}: {err:?}"
        );
    }
    // An exponential anyOf through references stops at the step budget.
    let mut defs = serde_json::Map::new();
    for i in 0..40 {
        defs.insert(format!("d{i}"), json!({"anyOf": [{"$ref": format!("#/$defs/d{}", i + 1)}, {"$ref": format!("#/$defs/d{}", i + 1)}]}));
    }
    defs.insert("d40".into(), json!(false));
    let s = json!({"$defs": defs, "$ref": "#/$defs/d0"});
    assert!(Schema::compile(&s).unwrap().validate(&json!(1)).is_err());
}

#[test]
fn refuses_what_it_cannot_enforce_and_what_is_malformed() {
    for s in [
        json!({"type": "strng"}),
        json!({"type": "string", "pattern": "(?=a)"}),
        json!({"patternProperties": {"(?<=x)": {}}}),
        json!({"type": "string", "pattern": 1}),
        json!({"properties": {"iban": {"type": "string", "format": "iban"}}}),
        json!({"$ref": "https://example.com/schema.json"}),
        json!({"$ref": "other.json#/$defs/x"}),
        json!({"$ref": "#anchor", "$defs": {"x": {"$anchor": "anchor"}}}),
        json!({"$ref": "#/$defs/missing", "$defs": {}}),
        json!({"$ref": "#/enum/0", "enum": [3]}),
        json!({"properties": {"a": {"$id": "http://x/y", "type": "string"}}}),
        json!({"unevaluatedProperties": false}),
        json!({"items": {"$dynamicRef": "#meta"}}),
        json!({"minimum": "0"}),
        json!({"required": "id"}),
        json!({"items": [{"type": "string"}]}),
        json!({"multipleOf": 0}),
        json!({"anyOf": []}),
        json!(3),
    ] {
        assert!(Schema::compile(&s).is_err(), "{s} should be refused");
    }
    Schema::compile(&json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://x/y",
                            "title": "t", "description": "d", "default": 1, "examples": [], "x-vendor": {}}))
        .expect("annotations and unknown keywords are ignored");
}

#[test]
fn applicators_if_contains_property_names_dependent_schemas() {
    let s = json!({"if": {"required": ["kind"], "properties": {"kind": {"const": "card"}}}, "then": {"required": ["last4"]}, "else": {"required": ["iban"]},
                   "properties": {"tags": {"contains": {"const": "x"}, "minContains": 1, "maxContains": 2}},
                   "propertyNames": {"maxLength": 5}, "dependentSchemas": {"kind": {"required": ["tags"]}}});
    let r = Schema::compile(&s)
        .unwrap()
        .validate(&json!({"kind": "card", "last4": "1", "tags": ["x"]}));
    assert_eq!(r, Ok(()), "{r:?}");
    assert_eq!(
        check(&s, &json!({"kind": "card", "tags": ["x"]})),
        Err("".into())
    );
    assert_eq!(check(&s, &json!({"iban": "1"})), Ok(()));
    assert_eq!(
        check(&s, &json!({"kind": "bank", "iban": "1"})),
        Err("".into())
    );
    assert_eq!(
        check(&s, &json!({"iban": "1", "tags": ["x", "x", "x"]})),
        Err("/tags".into())
    );
    assert_eq!(
        check(&s, &json!({"iban": "1", "tags": []})),
        Err("/tags".into())
    );
    assert_eq!(
        check(&s, &json!({"iban": "1", "toolong": 1})),
        Err("".into())
    );
}

#[test]
fn pydantic_formats_duration_and_uri_reference() {
    let fmt = |f: &str| json!({"type": "string", "format": f});
    // pydantic's SecretStr and bytes: annotations, every string valid (nothing to enforce).
    for f in ["password", "binary"] {
        assert_eq!(check(&fmt(f), &json!("anything at all")), Ok(()));
    }
    for ok in ["P1D", "PT2H", "P1Y2M3DT4H5M6S", "P3W", "PT0S", "P1M"] {
        assert_eq!(check(&fmt("duration"), &json!(ok)), Ok(()), "{ok}");
    }
    for bad in [
        "P", "PT", "1D", "P1H", "PT1D", "P1D2Y", "P1W2D", "P1DT", "P1.5D", "P1DD",
    ] {
        assert!(check(&fmt("duration"), &json!(bad)).is_err(), "{bad}");
    }
    for ok in [
        "https://a.example/x?y#z",
        "/a/b",
        "a/b?c",
        "#frag",
        "",
        "//host/p",
        "../x",
    ] {
        assert_eq!(check(&fmt("uri-reference"), &json!(ok)), Ok(()), "{ok:?}");
    }
    for bad in ["a b", "x:y z", "/a#b#c", "\\\\host", "1a:b"] {
        assert!(
            check(&fmt("uri-reference"), &json!(bad)).is_err(),
            "{bad:?}"
        );
    }
    // Names nobody defines are still refused at load (fail closed).
    assert!(Schema::compile(&fmt("file-path")).is_err());
}
