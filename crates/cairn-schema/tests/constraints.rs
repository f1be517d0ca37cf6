//! Every field type and constraint kind, accepting and rejecting; defaults; rules.

mod support;

use cairn_engine::EngineError;
use cairn_schema::{set_schema, SCHEMA_VERSION_FIELD};
use support::{json, open};

const SCHEMA: &str = r#"{
  "additional_fields": "reject",
  "fields": {
    "name": {"type": "string", "required": true, "length": {"min": 2, "max": 8}, "pattern": "^[A-Z]"},
    "email": {"type": "string", "unique": true},
    "age": {"type": "int", "min": 0, "max": 150},
    "score": {"type": "float", "min": -1.5, "max": 1.5},
    "ok": "bool",
    "at": {"type": "datetime", "default": "now()"},
    "key": {"type": "uuid", "default": "uuid()"},
    "blob": {"type": "bytes", "length": {"max": 3}},
    "any": "json",
    "tags": {"type": "array<string>", "length": {"max": 2}},
    "kind": {"type": "string", "enum": ["star", "planet"], "default": "star"},
    "address": {"type": "object", "additional_fields": "reject", "fields": {"city": {"type": "string", "required": true}}},
    "scores": "map<int>",
    "embedding": "vector<3>",
    "steps": {"type": "array", "items": {"type": "object", "fields": {"kind": "string"}}}
  },
  "rules": {
    "proof_starts_with_axiom": "!exists(steps) || len(steps) > 0 && steps[0].kind == \"axiom\""
  }
}"#;

fn setup() -> cairn_engine::Database {
    let db = open();
    db.create_collection("c").expect("create");
    set_schema(&db, "c", &json(SCHEMA), "tester").expect("schema set");
    db
}

#[test]
fn every_type_and_constraint_accepts_valid_documents_and_fills_defaults() {
    let db = setup();
    let id = db
        .insert(
            "c",
            json(
                r#"{"name": "Ada", "email": "a@x", "age": 36, "score": 1, "ok": true,
                 "blob": {"$bytes": "AAE="}, "any": [1, {"x": null}], "tags": ["a", "b"],
                 "kind": "planet", "address": {"city": "Paris"}, "scores": {"m": 1, "n": 2},
                 "embedding": {"$vector": [1, 2, 3]}, "steps": [{"kind": "axiom"}]}"#,
            ),
        )
        .expect("a valid document is accepted");
    let doc = db.get("c", &id).expect("get").expect("stored");
    let obj = doc.as_object().expect("object");
    assert!(
        matches!(obj.get("at"), Some(cairn_doc::Value::DateTime(_))),
        "now() default"
    );
    assert!(
        matches!(obj.get("key"), Some(cairn_doc::Value::Uuid(_))),
        "uuid() default"
    );
    assert_eq!(
        obj.get(SCHEMA_VERSION_FIELD),
        Some(&cairn_doc::Value::Int(1))
    );
    let minimal = db
        .insert("c", json(r#"{"name": "Bo"}"#))
        .expect("optional fields may be absent");
    let doc = db.get("c", &minimal).expect("get").expect("stored");
    assert_eq!(
        doc.as_object().and_then(|o| o.get("kind")),
        Some(&json(r#""star""#)),
        "literal default"
    );
}

#[test]
fn every_constraint_kind_rejects_what_breaks_it() {
    let db = setup();
    let cases = [
        (r#"{"age": 3}"#, "name"),                                      // required
        (r#"{"name": null}"#, "name"),                                  // required, null
        (r#"{"name": 7}"#, "name"),                                     // type string
        (r#"{"name": "A"}"#, "name"),                                   // length min
        (r#"{"name": "Abcdefghij"}"#, "name"),                          // length max
        (r#"{"name": "ada"}"#, "name"),                                 // pattern
        (r#"{"name": "Ada", "age": 1.5}"#, "age"),                      // type int
        (r#"{"name": "Ada", "age": -1}"#, "age"),                       // min
        (r#"{"name": "Ada", "age": 151}"#, "age"),                      // max
        (r#"{"name": "Ada", "score": 2}"#, "score"),                    // float max
        (r#"{"name": "Ada", "ok": "yes"}"#, "ok"),                      // bool
        (r#"{"name": "Ada", "at": "2024-01-01"}"#, "at"),               // datetime
        (r#"{"name": "Ada", "key": "k"}"#, "key"),                      // uuid
        (r#"{"name": "Ada", "blob": {"$bytes": "AAECAw=="}}"#, "blob"), // bytes length
        (r#"{"name": "Ada", "tags": ["a", 1]}"#, "tags[1]"),            // array element type
        (r#"{"name": "Ada", "tags": ["a", "b", "c"]}"#, "tags"),        // array length
        (r#"{"name": "Ada", "kind": "moon"}"#, "kind"),                 // enum
        (r#"{"name": "Ada", "address": {}}"#, "address.city"),          // nested required
        (
            r#"{"name": "Ada", "address": {"city": "P", "zip": 1}}"#,
            "address.zip",
        ), // nested reject
        (r#"{"name": "Ada", "scores": {"m": "x"}}"#, "scores.m"),       // map value type
        (
            r#"{"name": "Ada", "embedding": {"$vector": [1, 2]}}"#,
            "embedding",
        ), // vector dim
        (r#"{"name": "Ada", "extra": 1}"#, "extra"),                    // additional_fields reject
        (
            r#"{"name": "Ada", "steps": [{"kind": 1}]}"#,
            "steps[0].kind",
        ), // array of objects
    ];
    for (doc, path) in cases {
        match db.insert("c", json(doc)) {
            Err(EngineError::SchemaViolation {
                path: found,
                collection,
                ..
            }) => {
                assert_eq!(found, path, "{doc}");
                assert_eq!(collection, "c");
            }
            other => panic!("{doc} should violate `{path}`, got {other:?}"),
        }
    }
}

#[test]
fn unique_fields_are_kept_by_a_unique_index() {
    let db = setup();
    db.insert("c", json(r#"{"name": "Ada", "email": "a@x"}"#))
        .expect("first");
    db.insert("c", json(r#"{"name": "Bob"}"#))
        .expect("absent is exempt");
    db.insert("c", json(r#"{"name": "Cy"}"#))
        .expect("absent twice is exempt");
    let err = db.insert("c", json(r#"{"name": "Eve", "email": "a@x"}"#));
    assert!(
        matches!(err, Err(EngineError::UniqueViolation { .. })),
        "{err:?}"
    );
}

#[test]
fn a_failing_rule_names_the_rule_the_document_and_the_values() {
    let db = setup();
    let err = db.insert(
        "c",
        json(r#"{"_id": "p1", "name": "Ada", "steps": [{"kind": "lemma"}]}"#),
    );
    match err {
        Err(EngineError::RuleViolation {
            rule, id, values, ..
        }) => {
            assert_eq!(rule, "proof_starts_with_axiom");
            assert_eq!(id.to_string(), "p1");
            assert!(values.contains(r#"steps[0].kind = "lemma""#), "{values}");
        }
        other => panic!("expected a rule violation, got {other:?}"),
    }
    let energy = open();
    energy.create_collection("e").expect("create");
    set_schema(&energy, "e", &json(r#"{"fields": {"energy_in": "float", "energy_out": "float"}, "rules": {"conserved": "energy_out <= energy_in"}}"#), "t").expect("set");
    energy
        .insert("e", json(r#"{"energy_in": 2, "energy_out": 1.5}"#))
        .expect("holds");
    let err = energy
        .insert("e", json(r#"{"energy_in": 1, "energy_out": 1.5}"#))
        .map(|_| ());
    let text = err.map_err(|e| e.to_string()).err().unwrap_or_default();
    assert!(
        text.contains("conserved")
            && text.contains("energy_out = 1.5")
            && text.contains("energy_in = 1"),
        "{text}"
    );
}

#[test]
fn updates_are_validated_and_yaml_schemas_equal_json_ones() {
    let db = setup();
    let id = db
        .insert("c", json(r#"{"name": "Ada", "age": 3}"#))
        .expect("insert");
    let patch = cairn_doc::Patch::from_json_str(r#"{"$inc": {"age": 200}}"#).expect("patch");
    assert!(matches!(
        db.update("c", &id, &patch),
        Err(EngineError::SchemaViolation { .. })
    ));
    let yaml =
        "fields:\n  a: {type: int, min: 1}\n  b: \"array<string>\"\nrules:\n  r: \"a < 10\"\n";
    let from_yaml = cairn_schema::parse_schema_file(yaml).expect("yaml");
    let from_json = cairn_schema::parse_schema_file(r#"{"fields": {"a": {"type": "int", "min": 1}, "b": "array<string>"}, "rules": {"r": "a < 10"}}"#).expect("json");
    assert_eq!(from_yaml, from_json);
}

#[test]
fn bad_schemas_are_refused_naming_the_place() {
    let db = open();
    db.create_collection("c").expect("create");
    for (schema, at) in [
        (r#"{"fields": {"a": "integer"}}"#, "a"),
        (
            r#"{"fields": {"a": {"type": "int", "length": {"max": 1}}}}"#,
            "a",
        ),
        (
            r#"{"fields": {"a": {"type": "string", "pattern": "("}}}"#,
            "a",
        ),
        (r#"{"fields": {"a": {"type": "int", "default": "x"}}}"#, "a"),
        (
            r#"{"fields": {"a": {"type": "int", "requried": true}}}"#,
            "a",
        ),
        (
            r#"{"fields": {"_schema_version": "int"}}"#,
            "_schema_version",
        ),
    ] {
        match set_schema(&db, "c", &json(schema), "t") {
            Err(cairn_schema::SchemaError::InvalidSchema { at: found, .. }) => {
                assert_eq!(found, at, "{schema}")
            }
            other => panic!("{schema}: {other:?}"),
        }
    }
    assert!(matches!(
        set_schema(
            &db,
            "c",
            &json(r#"{"fields": {}, "rules": {"r": "a <"}}"#),
            "t"
        ),
        Err(cairn_schema::SchemaError::InvalidExpression { .. })
    ));
}

const GEOMETRY_SCHEMA: &str = r#"{
  "fields": {
    "site": "point",
    "edge": "segment",
    "face": "triangle",
    "surface": "mesh",
    "hull": {"type": "mesh", "closed": true, "required": true},
    "bounds": "box",
    "ball": "sphere",
    "shape": "geometry"
  }
}"#;

const POINT: &str = r#"{"$geometry": {"type": "point", "coordinates": [1, 2, 3]}}"#;
const SEGMENT: &str =
    r#"{"$geometry": {"type": "segment", "coordinates": [[0, 0, 0], [1, 1, 1]]}}"#;
const TRIANGLE: &str =
    r#"{"$geometry": {"type": "triangle", "coordinates": [[0, 0, 0], [1, 0, 0], [0, 1, 0]]}}"#;
/// A tetrahedron, every edge shared by two triangles in opposite directions.
const CLOSED_MESH: &str = r#"{"$geometry": {"type": "mesh", "vertices": [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], "triangles": [[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]]}}"#;
/// The same tetrahedron without its last face.
const OPEN_MESH: &str = r#"{"$geometry": {"type": "mesh", "vertices": [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], "triangles": [[0, 2, 1], [0, 1, 3], [0, 3, 2]]}}"#;
const BOX: &str = r#"{"$geometry": {"type": "box", "min": [0, 0, 0], "max": [1, 2, 3]}}"#;
const SPHERE: &str = r#"{"$geometry": {"type": "sphere", "center": [0, 0, 0], "radius": 2}}"#;

fn geometry_db() -> cairn_engine::Database {
    let db = open();
    db.create_collection("g").expect("create");
    set_schema(&db, "g", &json(GEOMETRY_SCHEMA), "tester").expect("schema set");
    db
}

#[test]
fn geometry_fields_accept_their_shape() {
    let db = geometry_db();
    let doc = format!(
        r#"{{"site": {POINT}, "edge": {SEGMENT}, "face": {TRIANGLE}, "surface": {OPEN_MESH},
            "hull": {CLOSED_MESH}, "bounds": {BOX}, "ball": {SPHERE}, "shape": {SPHERE}}}"#
    );
    let id = db.insert("g", json(&doc)).expect("every shape fits");
    let stored = db.get("g", &id).expect("get").expect("stored");
    let hull = stored.as_object().and_then(|o| o.get("hull"));
    assert_eq!(
        hull,
        Some(&json(CLOSED_MESH)),
        "the mesh is stored as written"
    );
    for any in [POINT, SEGMENT, TRIANGLE, OPEN_MESH, BOX] {
        db.insert(
            "g",
            json(&format!(r#"{{"hull": {CLOSED_MESH}, "shape": {any}}}"#)),
        )
        .expect("`geometry` takes any shape");
    }
}

#[test]
fn geometry_fields_refuse_other_shapes_and_open_meshes() {
    let db = geometry_db();
    let cases = [
        (
            format!(r#"{{"hull": {CLOSED_MESH}, "site": {SPHERE}}}"#),
            "site",
            "expected point, found a sphere",
        ),
        (
            format!(r#"{{"hull": {CLOSED_MESH}, "edge": {POINT}}}"#),
            "edge",
            "expected segment",
        ),
        (
            format!(r#"{{"hull": {CLOSED_MESH}, "face": {BOX}}}"#),
            "face",
            "expected triangle",
        ),
        (
            format!(r#"{{"hull": {CLOSED_MESH}, "surface": {TRIANGLE}}}"#),
            "surface",
            "expected mesh",
        ),
        (
            format!(r#"{{"hull": {CLOSED_MESH}, "bounds": {SPHERE}}}"#),
            "bounds",
            "expected box",
        ),
        (
            format!(r#"{{"hull": {CLOSED_MESH}, "ball": {BOX}}}"#),
            "ball",
            "expected sphere",
        ),
        (
            format!(r#"{{"hull": {CLOSED_MESH}, "shape": [1, 2, 3]}}"#),
            "shape",
            "expected geometry",
        ),
        (
            format!(r#"{{"hull": {CLOSED_MESH}, "site": [1, 2, 3]}}"#),
            "site",
            "expected point",
        ),
        (
            format!(r#"{{"hull": {OPEN_MESH}}}"#),
            "hull",
            "is not closed",
        ),
        (format!(r#"{{"hull": {SPHERE}}}"#), "hull", "expected mesh"),
        (r#"{"site": null}"#.to_string(), "hull", "required"),
    ];
    for (doc, path, reason_part) in cases {
        match db.insert("g", json(&doc)) {
            Err(EngineError::SchemaViolation {
                path: found,
                reason,
                ..
            }) => {
                assert_eq!(found, path, "{doc}");
                assert!(reason.contains(reason_part), "{doc}: {reason}");
            }
            other => panic!("{doc} should violate `{path}`, got {other:?}"),
        }
    }
    let id = db
        .insert("g", json(&format!(r#"{{"hull": {CLOSED_MESH}}}"#)))
        .expect("insert");
    let patch = cairn_doc::Patch::from_json_str(&format!(r#"{{"$set": {{"hull": {OPEN_MESH}}}}}"#))
        .expect("patch");
    assert!(
        matches!(
            db.update("g", &id, &patch),
            Err(EngineError::SchemaViolation { .. })
        ),
        "an update cannot open a closed mesh"
    );
}

#[test]
fn closed_applies_only_to_mesh_fields() {
    let db = open();
    db.create_collection("c").expect("create");
    for schema in [
        r#"{"fields": {"a": {"type": "sphere", "closed": true}}}"#,
        r#"{"fields": {"a": {"type": "geometry", "closed": true}}}"#,
        r#"{"fields": {"a": {"type": "mesh", "closed": "yes"}}}"#,
        r#"{"fields": {"a": {"type": "point", "min": 0}}}"#,
    ] {
        assert!(
            matches!(
                set_schema(&db, "c", &json(schema), "t"),
                Err(cairn_schema::SchemaError::InvalidSchema { .. })
            ),
            "{schema}"
        );
    }
}
