//! The public API: positions for `$`, upsert equality fields, `_id` point
//! lookups, the empty filter.

use bson::{Bson, Document, bson, doc};

use crate::Error;
use crate::query::Filter;

fn filter(f: Document) -> Filter {
    Filter::parse(&f).expect("filter parses")
}

fn position(f: Document, d: Document) -> Option<Option<usize>> {
    filter(f).match_details(&d).map(|m| m.array_position)
}

#[test]
fn empty_filter_matches_everything() {
    let f = filter(doc! {});
    assert!(f.is_empty());
    assert!(f.matches(&doc! {"a": 1}));
    assert!(!filter(doc! {"$comment": "x"}).is_empty());
}

#[test]
fn positions_for_implicit_traversal() {
    assert_eq!(position(doc! {"a": 5}, doc! {"a": [1, 5]}), Some(Some(1)));
    assert_eq!(position(doc! {"a": 5}, doc! {"a": 5}), Some(None));
    assert_eq!(position(doc! {"a": [1, 5]}, doc! {"a": [1, 5]}), Some(None));
    assert_eq!(position(doc! {"a": 6}, doc! {"a": [1, 5]}), None);
    assert_eq!(
        position(doc! {"a.b": 5}, doc! {"a": [{"b": 1}, {"b": [3, 5]}]}),
        Some(Some(1))
    );
    assert_eq!(position(doc! {"a.1": 5}, doc! {"a": [1, 5]}), Some(None));
}

#[test]
fn positions_for_elem_match_and_last_wins() {
    let d = doc! {"a": [{"x": 1}, {"x": 2, "y": 3}], "b": [7, 8, 9]};
    assert_eq!(
        position(doc! {"a": {"$elemMatch": {"x": 2}}}, d.clone()),
        Some(Some(1))
    );
    assert_eq!(position(doc! {"a.x": 2, "b": 9}, d.clone()), Some(Some(2)));
    assert_eq!(
        position(doc! {"b": {"$elemMatch": {"$gt": 7}}}, d.clone()),
        Some(Some(1))
    );
    // $or does not report positions.
    assert_eq!(position(doc! {"$or": [{"b": 8}]}, d.clone()), Some(None));
    // $elemMatch below an array of documents: the outer element counts.
    let nested = doc! {"a": [{"b": [1]}, {"b": [5, 6]}]};
    assert_eq!(
        position(doc! {"a.b": {"$elemMatch": {"$gt": 5}}}, nested),
        Some(Some(1))
    );
}

#[test]
fn equality_fields_follow_mongodb() {
    let f = filter(doc! {"a": 1, "b.c": {"$eq": 2}, "$and": [{"d": 3}], "e": {"$gt": 1}});
    assert_eq!(
        f.equality_fields().unwrap(),
        vec![
            ("a".into(), bson!(1)),
            ("b.c".into(), bson!(2)),
            ("d".into(), bson!(3))
        ]
    );
    let f = filter(doc! {"$or": [{"x": "k"}], "$nor": [{"y": 1}], "m": {"a": 1, "b": "x"}});
    assert_eq!(
        f.equality_fields().unwrap(),
        vec![
            ("x".into(), bson!("k")),
            ("m".into(), bson!({"a": 1, "b": "x"}))
        ]
    );
    let f = filter(doc! {"$or": [{"x": 1}, {"y": 2}], "z": {"$in": [4]}, "r": {"$regex": "a"}});
    assert_eq!(f.equality_fields().unwrap(), vec![("z".into(), bson!(4))]);
    let f = filter(doc! {"n": null, "t": {"$all": ["q"]}, "u": {"$not": {"$eq": 1}}});
    assert_eq!(
        f.equality_fields().unwrap(),
        vec![("n".into(), Bson::Null), ("t".into(), bson!("q"))]
    );
}

#[test]
fn equality_fields_reject_a_path_matched_twice() {
    for f in [
        doc! {"a": 1, "$and": [{"a": 2}]},
        doc! {"a": {"$all": [1, 2]}},
        doc! {"a": 1, "$and": [{"a": {"$eq": 1}}]},
    ] {
        let e = filter(f).equality_fields().unwrap_err();
        assert!(matches!(e, Error::BadValue(m) if m.contains("path 'a' is matched twice")));
    }
}

#[test]
fn id_equality_for_point_lookups() {
    assert_eq!(filter(doc! {"_id": 7}).id_equality(), Some(&bson!(7)));
    assert_eq!(
        filter(doc! {"_id": {"$eq": "k"}, "x": 1}).id_equality(),
        Some(&bson!("k"))
    );
    assert_eq!(
        filter(doc! {"$and": [{"x": 1}, {"_id": 3}]}).id_equality(),
        Some(&bson!(3))
    );
    assert_eq!(
        filter(doc! {"_id": {"x": 1}}).id_equality(),
        Some(&bson!({"x": 1}))
    );
    assert_eq!(filter(doc! {"_id": {"$in": [1]}}).id_equality(), None);
    assert_eq!(filter(doc! {"_id": {"$gt": 1}}).id_equality(), None);
    assert_eq!(
        filter(doc! {"_id": {"$eq": {"$gt": 1}}}).id_equality(),
        None
    );
    assert_eq!(
        filter(doc! {"$or": [{"_id": 1}, {"_id": 2}]}).id_equality(),
        None
    );
    assert_eq!(filter(doc! {"_id.x": 1}).id_equality(), None);
}

#[test]
fn filters_on_id_alone_are_recognised_and_match_by_id() {
    for only_id in [
        doc! {"_id": 7},
        doc! {"_id": {"$gte": 7, "$ne": 8}},
        doc! {"$and": [{"_id": 7}, {"_id": {"$type": "int"}}]},
        doc! {"$or": [{"_id": 7}, {"$nor": [{"_id": {"$exists": true}}]}]},
        doc! {"_id": {"$not": {"$lt": 7}}},
    ] {
        let f = filter(only_id.clone());
        assert!(f.reads_only_id(), "{only_id}");
        // Same answer as matching the whole document.
        for whole in [doc! {"_id": 7, "x": 1}, doc! {"_id": 8}, doc! {"_id": "a"}] {
            let id = whole.get("_id").cloned().expect("has _id");
            assert_eq!(f.matches_id(id), f.matches(&whole), "{only_id} on {whole}");
        }
    }
    // Where the key lookup alone decides: one `$eq` on `_id` with a number,
    // string or ObjectId.
    for decides in [
        doc! {"_id": 7},
        doc! {"_id": {"$eq": 7_i64}},
        doc! {"_id": 7.5},
        doc! {"_id": "k"},
        doc! {"_id": bson::oid::ObjectId::from_bytes([1; 12])},
    ] {
        assert!(filter(decides.clone()).id_lookup_decides(), "{decides}");
    }
    for undecided in [
        doc! {"_id": f64::NAN},
        doc! {"_id": null},
        doc! {"_id": {"a": 1}},
        doc! {"_id": 7, "x": 1},
        doc! {"_id": {"$in": [7]}},
        doc! {"$and": [{"_id": 7}, {"_id": {"$type": "int"}}]},
    ] {
        assert!(
            !filter(undecided.clone()).id_lookup_decides(),
            "{undecided}"
        );
    }
    for other in [
        doc! {"_id": 7, "x": 1},
        doc! {"_id.x": 1},
        doc! {"$or": [{"_id": 7}, {"x": 1}]},
        doc! {"_id": 7, "$expr": {"$eq": ["$_id", 7]}},
    ] {
        assert!(!filter(other.clone()).reads_only_id(), "{other}");
    }
}

#[test]
fn filter_is_send_sync_clone() {
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug>() {}
    assert_traits::<Filter>();
}
