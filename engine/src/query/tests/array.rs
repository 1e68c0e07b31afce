//! Array operators: implicit element matching, `$elemMatch` (value and
//! query forms), `$all`, `$size`, numeric path segments.

use super::*;

fn scores() -> Vec<Document> {
    vec![
        doc! {"_id": 1, "r": [82, 85, 88]},
        doc! {"_id": 2, "r": [75, 88, 89]},
        doc! {"_id": 3, "r": [[80, 81], 90]},
        doc! {"_id": 4, "r": 84},
        doc! {"_id": 5, "r": []},
    ]
}

#[test]
fn elem_match_on_values() {
    assert_eq!(
        ids(
            doc! {"r": {"$elemMatch": {"$gte": 80, "$lt": 85}}},
            &scores()
        ),
        ["1"]
    );
    assert_eq!(
        ids(doc! {"r": {"$elemMatch": {"$gt": 89}}}, &scores()),
        ["3"]
    );
    assert_eq!(
        ids(doc! {"r": {"$elemMatch": {"$size": 2}}}, &scores()),
        ["3"]
    );
    assert_eq!(
        ids(
            doc! {"r": {"$elemMatch": {"$elemMatch": {"$lt": 81}}}},
            &scores()
        ),
        ["3"]
    );
    assert_eq!(
        ids(doc! {"r": {"$elemMatch": {"$ne": 88}}}, &scores()),
        ["1", "2", "3"]
    );
    assert_eq!(
        ids(doc! {"r": {"$elemMatch": {"$in": [75, 90]}}}, &scores()),
        ["2", "3"]
    );
    assert_eq!(
        ids(doc! {"r": {"$elemMatch": {"$not": {"$gt": 80}}}}, &scores()),
        ["2", "3"]
    );
}

#[test]
fn elem_match_on_documents() {
    let docs = vec![
        doc! {"_id": 1, "s": [{"p": "a", "q": 1}, {"p": "b", "q": 2}]},
        doc! {"_id": 2, "s": [{"p": "a", "q": 2}]},
        doc! {"_id": 3, "s": [[{"p": "a"}], {"x": 1}]},
        doc! {"_id": 4, "s": {"p": "a", "q": 2}},
        doc! {"_id": 5, "s": [["a", "b"]]},
    ];
    assert_eq!(
        ids(doc! {"s": {"$elemMatch": {"p": "a", "q": 2}}}, &docs),
        ["2"]
    );
    assert_eq!(
        ids(
            doc! {"s": {"$elemMatch": {"$or": [{"q": 2}, {"x": 1}]}}},
            &docs
        ),
        ["1", "2", "3"]
    );
    assert_eq!(
        ids(doc! {"s": {"$elemMatch": {}}}, &docs),
        ["1", "2", "3", "5"]
    );
    // Nested arrays are seen as documents with fields "0", "1", …
    assert_eq!(ids(doc! {"s": {"$elemMatch": {"0.p": "a"}}}, &docs), ["3"]);
    assert_eq!(ids(doc! {"s": {"$elemMatch": {"1": "b"}}}, &docs), ["5"]);
    assert_eq!(ids(doc! {"s.p": "a", "s.q": 2}, &docs), ["1", "2", "4"]);
}

#[test]
fn all_operator() {
    let docs = vec![
        doc! {"_id": 1, "t": ["a", "b", "c"]},
        doc! {"_id": 2, "t": ["a"]},
        doc! {"_id": 3, "t": "a"},
        doc! {"_id": 4, "t": [["a", "b"]]},
        doc! {"_id": 5, "t": [{"n": 1, "m": 1}, {"n": 2, "m": 0}]},
    ];
    assert_eq!(ids(doc! {"t": {"$all": ["a", "b"]}}, &docs), ["1"]);
    assert_eq!(ids(doc! {"t": {"$all": ["a"]}}, &docs), ["1", "2", "3"]);
    assert_eq!(ids(doc! {"t": {"$all": [["a", "b"]]}}, &docs), ["4"]);
    assert_eq!(ids(doc! {"t": {"$all": []}}, &docs), Vec::<String>::new());
    assert_eq!(
        ids(
            doc! {"t": {"$all": [{"$elemMatch": {"n": 1, "m": 1}}, {"$elemMatch": {"n": 2}}]}},
            &docs
        ),
        ["5"]
    );
    assert_eq!(
        ids(
            doc! {"t": {"$all": [{"$elemMatch": {"n": 2, "m": 1}}]}},
            &docs
        ),
        Vec::<String>::new()
    );
}

#[test]
fn size_operator() {
    assert_eq!(ids(doc! {"r": {"$size": 3}}, &scores()), ["1", "2"]);
    assert_eq!(ids(doc! {"r": {"$size": 2}}, &scores()), ["3"]);
    assert_eq!(ids(doc! {"r": {"$size": 0}}, &scores()), ["5"]);
    assert_eq!(
        ids(doc! {"r": {"$size": 1}}, &scores()),
        Vec::<String>::new()
    );
    let nested = vec![doc! {"_id": 1, "a": [{"b": [1, 2]}, {"b": [3]}]}];
    assert_eq!(ids(doc! {"a.b": {"$size": 1}}, &nested), ["1"]);
}

#[test]
fn numeric_path_segments() {
    let docs = vec![
        doc! {"_id": 1, "a": [10, 20]},
        doc! {"_id": 2, "a": {"1": 20}},
        doc! {"_id": 3, "a": [{"1": 20}, 5]},
        doc! {"_id": 4, "a": [[10, 20]]},
    ];
    assert_eq!(ids(doc! {"a.1": 20}, &docs), ["1", "2", "3"]);
    assert_eq!(ids(doc! {"a.0.1": 20}, &docs), ["3", "4"]);
    assert_eq!(ids(doc! {"a.1": {"$exists": false}}, &docs), ["4"]);
}

#[test]
fn arrays_flatten_one_level_only() {
    let docs = vec![
        doc! {"_id": 1, "a": [[1, 2], 3]},
        doc! {"_id": 2, "a": [[{"b": 1}]]},
    ];
    assert_eq!(ids(doc! {"a": 1}, &docs), Vec::<String>::new());
    assert_eq!(ids(doc! {"a": 3}, &docs), ["1"]);
    assert_eq!(ids(doc! {"a": [1, 2]}, &docs), ["1"]);
    assert_eq!(ids(doc! {"a.b": 1}, &docs), Vec::<String>::new());
    assert_eq!(ids(doc! {"a.0.b": 1}, &docs), ["2"]);
}
