//! Element operators: `$exists` (operand truthiness) and `$type` (aliases,
//! codes, lists).

use super::*;

fn docs() -> Vec<Document> {
    vec![
        doc! {"_id": 1, "v": 1},
        doc! {"_id": 2, "v": 2.5},
        doc! {"_id": 3, "v": Bson::Int64(3)},
        doc! {"_id": 4, "v": "s"},
        doc! {"_id": 5, "v": null},
        doc! {"_id": 6},
        doc! {"_id": 7, "v": [1, "x", [true]]},
        doc! {"_id": 8, "v": {"k": 1}},
        doc! {"_id": 9, "v": false},
        doc! {"_id": 10, "v": Bson::Undefined},
        doc! {"_id": 11, "v": regex("a", "")},
        doc! {"_id": 12, "v": Bson::MinKey},
        doc! {"_id": 13, "v": Bson::MaxKey},
        doc! {"_id": 14, "v": Bson::Symbol("sym".into())},
    ]
}

#[test]
fn exists_uses_truthiness_of_its_operand() {
    for yes in [
        bson!(true),
        bson!(1),
        bson!("no"),
        bson!({}),
        bson!([]),
        bson!(f64::NAN),
    ] {
        assert_eq!(
            ids(doc! {"v": {"$exists": yes.clone()}}, &docs()).len(),
            13,
            "{yes}"
        );
    }
    for no in [bson!(false), bson!(0), bson!(0.0), Bson::Null] {
        assert_eq!(
            ids(doc! {"v": {"$exists": no.clone()}}, &docs()),
            ["6"],
            "{no}"
        );
    }
}

#[test]
fn type_aliases() {
    let cases: &[(&str, &[&str])] = &[
        ("double", &["2"]),
        ("string", &["4", "7"]),
        ("object", &["8"]),
        ("array", &["7"]),
        ("undefined", &["10"]),
        ("bool", &["9"]),
        ("null", &["5"]),
        ("regex", &["11"]),
        ("symbol", &["14"]),
        ("int", &["1", "7"]),
        ("long", &["3"]),
        ("number", &["1", "2", "3", "7"]),
        ("minKey", &["12"]),
        ("maxKey", &["13"]),
        ("date", &[]),
    ];
    for (alias, expected) in cases {
        assert_eq!(
            ids(doc! {"v": {"$type": *alias}}, &docs()),
            *expected,
            "{alias}"
        );
    }
}

#[test]
fn type_codes_and_lists() {
    assert_eq!(ids(doc! {"v": {"$type": 2}}, &docs()), ["4", "7"]);
    assert_eq!(ids(doc! {"v": {"$type": 18.0}}, &docs()), ["3"]);
    assert_eq!(ids(doc! {"v": {"$type": -1}}, &docs()), ["12"]);
    assert_eq!(ids(doc! {"v": {"$type": 127}}, &docs()), ["13"]);
    assert_eq!(
        ids(doc! {"v": {"$type": ["double", 10]}}, &docs()),
        ["2", "5"]
    );
}

#[test]
fn exists_through_paths() {
    let docs = vec![
        doc! {"_id": 1, "a": [{"b": 1}, {"c": 2}]},
        doc! {"_id": 2, "a": [{"c": 3}]},
        doc! {"_id": 3, "a": {"b": null}},
        doc! {"_id": 4, "a": [1, 2]},
        doc! {"_id": 5, "a": [[{"b": 1}]]},
    ];
    assert_eq!(ids(doc! {"a.b": {"$exists": true}}, &docs), ["1", "3"]);
    assert_eq!(
        ids(doc! {"a.b": {"$exists": false}}, &docs),
        ["2", "4", "5"]
    );
    assert_eq!(ids(doc! {"a.0.b": {"$exists": true}}, &docs), ["1", "5"]);
}
