//! Logical operators: `$and $or $nor $not`, `$alwaysTrue`/`$alwaysFalse`.

use super::*;

fn docs() -> Vec<Document> {
    vec![
        doc! {"_id": 1, "a": 1, "b": [1, 2]},
        doc! {"_id": 2, "a": 2},
        doc! {"_id": 3, "b": 3},
        doc! {"_id": 4, "a": "x", "b": []},
    ]
}

#[test]
fn and_or_nor() {
    assert_eq!(
        ids(
            doc! {"$and": [{"a": {"$gte": 1}}, {"a": {"$lt": 2}}]},
            &docs()
        ),
        ["1"]
    );
    assert_eq!(ids(doc! {"$or": [{"a": 2}, {"b": 3}]}, &docs()), ["2", "3"]);
    assert_eq!(
        ids(doc! {"$nor": [{"a": 2}, {"b": 3}]}, &docs()),
        ["1", "4"]
    );
    assert_eq!(
        ids(doc! {"$nor": [{"a": {"$exists": true}}]}, &docs()),
        ["3"]
    );
    assert_eq!(
        ids(
            doc! {"a": {"$exists": true}, "$or": [{"b": 2}, {"b": {"$size": 0}}]},
            &docs()
        ),
        ["1", "4"]
    );
}

#[test]
fn not_negates_the_whole_path_predicate() {
    assert_eq!(
        ids(doc! {"a": {"$not": {"$gte": 2}}}, &docs()),
        ["1", "3", "4"]
    );
    assert_eq!(
        ids(doc! {"b": {"$not": {"$gt": 1, "$lt": 3}}}, &docs()),
        ["2", "3", "4"]
    );
    assert_eq!(
        ids(doc! {"b": {"$not": {"$size": 0}}}, &docs()),
        ["1", "2", "3"]
    );
    assert_eq!(
        ids(doc! {"a": {"$not": regex("^x", "")}}, &docs()),
        ["1", "2", "3"]
    );
    assert_eq!(
        ids(
            doc! {"a": {"$not": {"$regex": "X", "$options": "i"}}},
            &docs()
        ),
        ["1", "2", "3"]
    );
    assert_eq!(ids(doc! {"b": {"$ne": 2}}, &docs()), ["2", "3", "4"]);
}

#[test]
fn always_true_and_false() {
    assert_eq!(ids(doc! {"$alwaysTrue": 1}, &docs()).len(), 4);
    assert!(ids(doc! {"$alwaysFalse": 1}, &docs()).is_empty());
}
