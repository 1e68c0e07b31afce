//! `$regex` with `$options`, regex literals, regex values in `$in`/`$nin`/`$all`.

use super::*;

fn docs() -> Vec<Document> {
    vec![
        doc! {"_id": 1, "s": "Apple pie"},
        doc! {"_id": 2, "s": "apple\nBanana"},
        doc! {"_id": 3, "s": ["cherry", "APPLE"]},
        doc! {"_id": 4, "s": 42},
        doc! {"_id": 5, "s": Bson::Symbol("apple".into())},
        doc! {"_id": 6, "s": regex("^apple", "i")},
        doc! {"_id": 7, "s": regex("^apple", "")},
    ]
}

#[test]
fn operator_forms() {
    // A stored regex value matches when it is the same regex.
    assert_eq!(
        ids(doc! {"s": {"$regex": "^apple"}}, &docs()),
        ["2", "5", "7"]
    );
    assert_eq!(
        ids(doc! {"s": {"$regex": "^apple", "$options": "i"}}, &docs()),
        ["1", "2", "3", "5", "6"]
    );
    assert_eq!(
        ids(doc! {"s": {"$regex": regex("^apple", "i")}}, &docs()),
        ["1", "2", "3", "5", "6"]
    );
    assert_eq!(
        ids(
            doc! {"s": {"$regex": regex("^apple", ""), "$options": "i"}},
            &docs()
        ),
        ["1", "2", "3", "5", "6"]
    );
    assert_eq!(ids(doc! {"s": regex("^Banana", "m")}, &docs()), ["2"]);
    assert_eq!(
        ids(
            doc! {"s": {"$regex": "apple.banana", "$options": "si"}},
            &docs()
        ),
        ["2"]
    );
    assert_eq!(
        ids(
            doc! {"s": {"$regex": "a p p l e", "$options": "xi"}},
            &docs()
        ),
        ["1", "2", "3", "5"]
    );
}

#[test]
fn regex_values_compare_as_values_under_eq() {
    assert_eq!(
        ids(doc! {"s": {"$eq": regex("^apple", "i")}}, &docs()),
        ["6"]
    );
    assert_eq!(
        ids(doc! {"s": {"$in": [regex("^apple", "")]}}, &docs()),
        ["2", "5", "7"]
    );
    assert_eq!(
        ids(doc! {"s": {"$in": [regex("^cherry", ""), 42]}}, &docs()),
        ["3", "4"]
    );
    assert_eq!(
        ids(doc! {"s": {"$nin": [regex("apple", "i"), 42]}}, &docs()),
        ["6", "7"]
    );
    assert_eq!(
        ids(
            doc! {"s": {"$all": [regex("^cherry", ""), regex("^APP", "")]}},
            &docs()
        ),
        ["3"]
    );
}

#[test]
fn bad_patterns_are_errors() {
    assert!(Filter::parse(&doc! {"s": {"$regex": "(?<!x)y"}}).is_err());
    assert!(Filter::parse(&doc! {"s": {"$in": [regex("[", "")]}}).is_err());
    assert!(Filter::parse(&doc! {"s": {"$regex": "a", "$options": "q"}}).is_err());
}
