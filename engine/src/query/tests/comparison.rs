//! Comparison operators: `$eq $ne $gt $gte $lt $lte $in $nin` across type
//! brackets, MinKey/MaxKey, null, NaN, documents and arrays.

use super::*;

fn mixed() -> Vec<Document> {
    vec![
        doc! {"_id": 1, "v": 5},
        doc! {"_id": 2, "v": 5.5},
        doc! {"_id": 3, "v": Bson::Int64(7)},
        doc! {"_id": 4, "v": "7"},
        doc! {"_id": 5, "v": true},
        doc! {"_id": 6, "v": null},
        doc! {"_id": 7},
        doc! {"_id": 8, "v": {"x": 1}},
        doc! {"_id": 9, "v": [1, 9]},
        doc! {"_id": 10, "v": Bson::DateTime(bson::DateTime::from_millis(7))},
        doc! {"_id": 11, "v": Bson::MinKey},
        doc! {"_id": 12, "v": Bson::MaxKey},
    ]
}

#[test]
fn numbers_compare_only_with_numbers() {
    assert_eq!(ids(doc! {"v": {"$gt": 5}}, &mixed()), ["2", "3", "9"]);
    assert_eq!(ids(doc! {"v": {"$gte": 5}}, &mixed()), ["1", "2", "3", "9"]);
    assert_eq!(ids(doc! {"v": {"$lt": 5.5}}, &mixed()), ["1", "9"]);
    assert_eq!(ids(doc! {"v": {"$lte": Bson::Int64(1)}}, &mixed()), ["9"]);
    assert_eq!(ids(doc! {"v": 7.0}, &mixed()), ["3"]);
}

#[test]
fn other_brackets() {
    assert_eq!(ids(doc! {"v": {"$gte": ""}}, &mixed()), ["4"]);
    assert_eq!(ids(doc! {"v": {"$gte": false}}, &mixed()), ["5"]);
    assert_eq!(ids(doc! {"v": {"$gt": {}}}, &mixed()), ["8"]);
    assert_eq!(ids(doc! {"v": {"$lt": {"x": 2}}}, &mixed()), ["8"]);
    assert_eq!(ids(doc! {"v": {"$gt": []}}, &mixed()), ["9"]);
    let epoch = Bson::DateTime(bson::DateTime::from_millis(0));
    assert_eq!(ids(doc! {"v": {"$gt": epoch}}, &mixed()), ["10"]);
    // A date is not a number, nor a timestamp.
    assert_eq!(
        ids(
            doc! {"v": {"$gt": Bson::Timestamp(bson::Timestamp { time: 0, increment: 0 })}},
            &mixed()
        ),
        Vec::<String>::new()
    );
}

#[test]
fn min_and_max_key_operands() {
    let all: Vec<String> = (1..=12).map(|i| i.to_string()).collect();
    let mut below_max = all.clone();
    below_max.retain(|i| i != "12");
    assert_eq!(ids(doc! {"v": {"$lt": Bson::MaxKey}}, &mixed()), below_max);
    assert_eq!(ids(doc! {"v": {"$lte": Bson::MaxKey}}, &mixed()), all);
    assert_eq!(ids(doc! {"v": {"$gt": Bson::MinKey}}, &mixed()).len(), 11);
    assert_eq!(ids(doc! {"v": Bson::MaxKey}, &mixed()), ["12"]);
}

#[test]
fn null_operands() {
    assert_eq!(ids(doc! {"v": null}, &mixed()), ["6", "7"]);
    assert_eq!(ids(doc! {"v": {"$gte": null}}, &mixed()), ["6", "7"]);
    assert_eq!(ids(doc! {"v": {"$lte": null}}, &mixed()), ["6", "7"]);
    assert_eq!(
        ids(doc! {"v": {"$gt": null}}, &mixed()),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(doc! {"v": {"$lt": null}}, &mixed()),
        Vec::<String>::new()
    );
    assert_eq!(ids(doc! {"v": {"$ne": null}}, &mixed()).len(), 10);
}

#[test]
fn object_ids_and_dates() {
    let a = ObjectId::from_bytes([1; 12]);
    let b = ObjectId::from_bytes([2; 12]);
    let docs = vec![
        doc! {"_id": 1, "o": a},
        doc! {"_id": 2, "o": b},
        doc! {"_id": 3, "o": b.to_hex()},
    ];
    assert_eq!(ids(doc! {"o": {"$gt": a}}, &docs), ["2"]);
    assert_eq!(ids(doc! {"o": b}, &docs), ["2"]);
    assert_eq!(ids(doc! {"o": {"$in": [a, b]}}, &docs), ["1", "2"]);
}

#[test]
fn documents_and_arrays_compare_whole() {
    let docs = vec![
        doc! {"_id": 1, "a": {"x": 1, "y": 2}},
        doc! {"_id": 2, "a": {"y": 2, "x": 1}},
        doc! {"_id": 3, "a": [{"x": 1, "y": 2}, 5]},
        doc! {"_id": 4, "a": [[1, 2], 3]},
        doc! {"_id": 5, "a": [1, 2]},
        doc! {"_id": 6, "a": [2, 1]},
        doc! {"_id": 7, "a": {"x": 1.0, "y": Bson::Int64(2)}},
    ];
    assert_eq!(ids(doc! {"a": {"x": 1, "y": 2}}, &docs), ["1", "3", "7"]);
    assert_eq!(ids(doc! {"a": [1, 2]}, &docs), ["4", "5"]);
    assert_eq!(ids(doc! {"a": {"$eq": [1, 2]}}, &docs), ["4", "5"]);
    assert_eq!(ids(doc! {"a": 1}, &docs), ["5", "6"]);
    assert_eq!(ids(doc! {"a": {"$in": [[2, 1], 3]}}, &docs), ["4", "6"]);
    // A literal document whose first key is not an operator is equality,
    // even with '$' keys later on.
    let dollar = vec![doc! {"_id": 1, "a": {"x": 1, "$y": 2}}];
    assert_eq!(ids(doc! {"a": {"x": 1, "$y": 2}}, &dollar), ["1"]);
    assert_eq!(
        ids(
            doc! {"a": {"$eq": {"$gt": 1}}},
            &[doc! {"_id": 1, "a": {"$gt": 1}}]
        ),
        ["1"]
    );
}

#[test]
fn in_and_nin() {
    let docs = mixed();
    assert_eq!(
        ids(doc! {"v": {"$in": [5, "7", 9]}}, &docs),
        ["1", "4", "9"]
    );
    assert_eq!(ids(doc! {"v": {"$in": [null]}}, &docs), ["6", "7"]);
    assert_eq!(ids(doc! {"v": {"$in": []}}, &docs), Vec::<String>::new());
    assert_eq!(ids(doc! {"v": {"$nin": []}}, &docs).len(), 12);
    assert_eq!(
        ids(doc! {"v": {"$nin": [1, null, true]}}, &docs),
        ["1", "2", "3", "4", "8", "10", "11", "12"]
    );
}

#[test]
fn nan() {
    let docs = vec![
        doc! {"_id": 1, "n": f64::NAN},
        doc! {"_id": 2, "n": 1},
        doc! {"_id": 3, "n": f64::NEG_INFINITY},
    ];
    assert_eq!(ids(doc! {"n": f64::NAN}, &docs), ["1"]);
    assert_eq!(ids(doc! {"n": {"$lt": 5}}, &docs), ["2", "3"]);
    assert_eq!(ids(doc! {"n": {"$gte": f64::NAN}}, &docs), ["1"]);
    assert_eq!(ids(doc! {"n": {"$in": [f64::NAN]}}, &docs), ["1"]);
}
