//! Whole-update tests: parse an update, apply it to a document, check the
//! exact result, the modified flag and the errors.

use bson::{Bson, DateTime, Document, Timestamp, doc};

use super::*;

const NOW: DateTime = DateTime::from_millis(1_700_000_000_123);

fn ctx() -> UpdateContext {
    UpdateContext {
        now: NOW,
        position: None,
    }
}

fn at(position: usize) -> UpdateContext {
    UpdateContext {
        now: NOW,
        position: Some(position),
    }
}

fn run_with(
    update: Document,
    filters: &[Document],
    doc: Document,
    ctx: UpdateContext,
) -> Result<Applied> {
    Update::parse(&update, filters)?.apply(&doc, &ctx)
}

/// Applies `update` to `doc`; returns the new document and the modified flag.
fn run(update: Document, doc: Document) -> (Document, bool) {
    let applied = run_with(update.clone(), &[], doc, ctx())
        .unwrap_or_else(|e| panic!("{update:?} failed: {e}"));
    (applied.document, applied.modified)
}

fn fails(update: Document, doc: Document) -> Error {
    run_with(update, &[], doc, ctx()).expect_err("the update should fail")
}

fn keys(doc: &Document) -> Vec<&str> {
    doc.keys().map(String::as_str).collect()
}

// ---------------------------------------------------------------- $set / $unset

#[test]
fn set_existing_and_new_fields() {
    let (d, m) = run(
        doc! {"$set": {"a": 2, "c": [1, 2]}},
        doc! {"_id": 1, "a": 1, "b": "x"},
    );
    assert_eq!(d, doc! {"_id": 1, "a": 2, "b": "x", "c": [1, 2]});
    assert!(m);
}

#[test]
fn new_fields_are_appended_in_name_order() {
    let (d, _) = run(
        doc! {"$set": {"z": 1, "b": 2, "10": 3, "9": 4}},
        doc! {"_id": 1},
    );
    assert_eq!(keys(&d), vec!["_id", "9", "10", "b", "z"]);
    let (d, _) = run(doc! {"$set": {"z": 1}, "$inc": {"a": 1}}, doc! {"_id": 1});
    assert_eq!(keys(&d), vec!["_id", "a", "z"]);
}

#[test]
fn set_dotted_creates_documents() {
    let (d, m) = run(doc! {"$set": {"p.q.r": true, "p.q.s": 1}}, doc! {"_id": 1});
    assert_eq!(d, doc! {"_id": 1, "p": {"q": {"r": true, "s": 1}}});
    assert!(m);
    // Numeric segments name fields when creating.
    let (d, _) = run(doc! {"$set": {"a.0.b": 1}}, doc! {"_id": 1});
    assert_eq!(d, doc! {"_id": 1, "a": {"0": {"b": 1}}});
}

#[test]
fn set_array_indexes_and_padding() {
    let (d, _) = run(doc! {"$set": {"arr.1": "B"}}, doc! {"arr": ["a", "b", "c"]});
    assert_eq!(d, doc! {"arr": ["a", "B", "c"]});
    let (d, _) = run(doc! {"$set": {"arr.4": 9}}, doc! {"arr": [1, 2]});
    assert_eq!(d, doc! {"arr": [1, 2, null, null, 9]});
    let (d, _) = run(doc! {"$set": {"arr.3.x": 1}}, doc! {"arr": [1]});
    assert_eq!(d, doc! {"arr": [1, null, null, {"x": 1}]});
    let (d, _) = run(doc! {"$set": {"arr.0.x": 1}}, doc! {"arr": [{"y": 0}]});
    assert_eq!(d, doc! {"arr": [{"y": 0, "x": 1}]});
}

#[test]
fn setting_the_current_value_is_not_a_modification() {
    let (_, m) = run(
        doc! {"$set": {"a": 5, "b.c": [1, {"d": 2}]}},
        doc! {"a": 5, "b": {"c": [1, {"d": 2}]}},
    );
    assert!(!m);
    // A different type is a modification even when the values compare equal.
    let (d, m) = run(doc! {"$set": {"a": 5.0}}, doc! {"a": 5});
    assert!(m);
    assert_eq!(d.get("a"), Some(&Bson::Double(5.0)));
    let (_, m) = run(doc! {"$set": {}}, doc! {"a": 5});
    assert!(!m);
}

#[test]
fn unset_removes_fields_and_nulls_array_elements() {
    let (d, m) = run(
        doc! {"$unset": {"b": "", "c.d": ""}},
        doc! {"_id": 1, "a": 1, "b": 2, "c": {"d": 1, "e": 2}},
    );
    assert_eq!(d, doc! {"_id": 1, "a": 1, "c": {"e": 2}});
    assert!(m);
    let (d, _) = run(doc! {"$unset": {"arr.1": 1}}, doc! {"arr": [1, 2, 3]});
    assert_eq!(d, doc! {"arr": [1, null, 3]});
    let (d, m) = run(
        doc! {"$unset": {"x": 1, "a.b": 1, "s.t": 1, "arr.q": 1}},
        doc! {"a": {}, "s": 5, "arr": [1]},
    );
    assert_eq!(d, doc! {"a": {}, "s": 5, "arr": [1]});
    assert!(!m);
}

// ---------------------------------------------------------------- arithmetic

#[test]
fn inc_and_mul() {
    let (d, _) = run(
        doc! {"$inc": {"n": -2, "m.k": 10, "z": 3}},
        doc! {"_id": 1, "n": 5, "m": {"k": 1}},
    );
    assert_eq!(d, doc! {"_id": 1, "n": 3, "m": {"k": 11}, "z": 3});
    let (d, _) = run(
        doc! {"$mul": {"p": 1.5, "q": 3, "r": 4, "s": Bson::Int64(2)}},
        doc! {"p": 10, "q": 2},
    );
    assert_eq!(d, doc! {"p": 15.0, "q": 6, "r": 0, "s": Bson::Int64(0)});
    assert_eq!(d.get("r"), Some(&Bson::Int32(0)));
    let (d, _) = run(doc! {"$inc": {"x": 0.5}}, doc! {"x": 1});
    assert_eq!(d.get("x"), Some(&Bson::Double(1.5)));
    let (d, _) = run(doc! {"$inc": {"x": 1}}, doc! {"x": i32::MAX});
    assert_eq!(d.get("x"), Some(&Bson::Int64(i64::from(i32::MAX) + 1)));
    let (_, m) = run(doc! {"$inc": {"x": 0}}, doc! {"x": 7});
    assert!(!m);
}

#[test]
fn inc_errors_name_field_type_and_id() {
    let err = fails(doc! {"$inc": {"s": 1}}, doc! {"_id": 1, "s": "x"});
    assert_eq!(
        err,
        Error::TypeMismatch(
            "Cannot apply $inc to a value of non-numeric type. {_id: 1} has the field 's' of non-numeric type string"
                .into()
        )
    );
    let err = fails(doc! {"$inc": {"a": "x"}}, doc! {"_id": 1, "a": 1});
    assert!(
        matches!(err, Error::TypeMismatch(m) if m.starts_with("Cannot increment with non-numeric argument"))
    );
    let err = fails(doc! {"$inc": {"n": 1}}, doc! {"_id": 1, "n": i64::MAX});
    assert_eq!(
        err.to_string(),
        "Failed to apply $inc operations to current value ((NumberLong)9223372036854775807) for document {_id: 1}"
    );
}

#[test]
fn min_and_max_compare_across_types() {
    let (d, m) = run(
        doc! {"$min": {"lo": 5}, "$max": {"hi": 3}},
        doc! {"lo": 10, "hi": 10},
    );
    assert_eq!(d, doc! {"lo": 5, "hi": 10});
    assert!(m);
    let (d, _) = run(doc! {"$min": {"lo": 7}}, doc! {"hi": 1});
    assert_eq!(d, doc! {"hi": 1, "lo": 7});
    // Strings sort after numbers; null before.
    let (d, _) = run(
        doc! {"$max": {"a": "s"}, "$min": {"b": null}},
        doc! {"a": 100, "b": 1},
    );
    assert_eq!(d, doc! {"a": "s", "b": null});
    // Equal values of another type are not replaced.
    let (d, m) = run(doc! {"$min": {"a": 1.0}}, doc! {"a": 1});
    assert_eq!(d.get("a"), Some(&Bson::Int32(1)));
    assert!(!m);
}

#[test]
fn bit_operations() {
    let (d, _) = run(
        doc! {"$bit": {"a": {"and": 10}, "b": {"or": Bson::Int64(1)}, "c": {"xor": 5}}},
        doc! {"a": 13, "b": 4},
    );
    assert_eq!(d, doc! {"a": 8, "b": Bson::Int64(5), "c": 5});
    let err = fails(doc! {"$bit": {"a": {"and": 1}}}, doc! {"_id": 1, "a": 1.5});
    assert!(err.to_string().contains("non-integral type"));
}

// ---------------------------------------------------------------- $rename

#[test]
fn rename_moves_values() {
    let (d, m) = run(
        doc! {"$rename": {"nick": "alias", "name.first": "fname"}},
        doc! {"_id": 1, "nick": "z", "name": {"first": "a", "last": "b"}},
    );
    assert_eq!(
        d,
        doc! {"_id": 1, "name": {"last": "b"}, "alias": "z", "fname": "a"}
    );
    assert_eq!(keys(&d), vec!["_id", "name", "alias", "fname"]);
    assert!(m);
    let (d, _) = run(
        doc! {"$rename": {"a": "b"}},
        doc! {"_id": 1, "a": 1, "b": 2},
    );
    assert_eq!(d, doc! {"_id": 1, "b": 1});
    let (d, _) = run(doc! {"$rename": {"a": "x.y"}}, doc! {"a": [1]});
    assert_eq!(d, doc! {"x": {"y": [1]}});
    let (d, m) = run(doc! {"$rename": {"missing": "b"}}, doc! {"a": 1});
    assert_eq!(d, doc! {"a": 1});
    assert!(!m);
}

#[test]
fn rename_errors() {
    let err = fails(doc! {"$rename": {"_id": "x"}}, doc! {"_id": 1});
    assert!(matches!(err, Error::ImmutableField(_)));
    let err = fails(doc! {"$rename": {"a": "_id"}}, doc! {"_id": 1, "a": 2});
    assert!(matches!(err, Error::ImmutableField(_)));
    let err = fails(
        doc! {"$rename": {"a": "s.t"}},
        doc! {"_id": 1, "a": 2, "s": 1},
    );
    assert_eq!(err.to_string(), "Cannot create field 't' in element {s: 1}");
    assert!(Update::parse(&doc! {"$rename": {"a": "a.b"}}, &[]).is_err());
}

// ---------------------------------------------------------------- dates, setOnInsert

#[test]
fn current_date_uses_the_command_time() {
    let (d, m) = run(
        doc! {"$currentDate": {"d": true, "t": {"$type": "timestamp"}, "e.f": {"$type": "date"}}},
        doc! {"_id": 1},
    );
    assert!(m);
    assert_eq!(
        d,
        doc! {"_id": 1, "d": NOW, "e": {"f": NOW}, "t": Timestamp { time: 1_700_000_000, increment: 1 }}
    );
}

#[test]
fn set_on_insert_is_ignored_by_updates() {
    let (d, m) = run(doc! {"$setOnInsert": {"created": 1}}, doc! {"_id": 1});
    assert_eq!(d, doc! {"_id": 1});
    assert!(!m);
}

// ---------------------------------------------------------------- _id, paths

#[test]
fn id_is_immutable() {
    let err = fails(doc! {"$set": {"_id": 99}}, doc! {"_id": 1, "a": 1});
    assert_eq!(
        err,
        Error::ImmutableField(
            "Performing an update on the path '_id' would modify the immutable field '_id'".into()
        )
    );
    let err = fails(doc! {"$set": {"_id.x": 2}}, doc! {"_id": {"x": 1}});
    assert!(err.to_string().contains("path '_id.x'"));
    assert!(matches!(
        fails(doc! {"$unset": {"_id": 1}}, doc! {"_id": 1}),
        Error::ImmutableField(_)
    ));
    assert!(matches!(
        fails(doc! {"$set": {"_id": 1.0}}, doc! {"_id": 1}),
        Error::ImmutableField(_)
    ));
    let (d, m) = run(doc! {"$set": {"_id": 1, "a": 2}}, doc! {"_id": 1, "a": 1});
    assert_eq!(d, doc! {"_id": 1, "a": 2});
    assert!(m);
}

#[test]
fn paths_through_scalars_are_not_viable() {
    let err = fails(doc! {"$set": {"a.b": 1}}, doc! {"_id": 1, "a": 1});
    assert_eq!(
        err,
        Error::PathNotViable("Cannot create field 'b' in element {a: 1}".into())
    );
    let err = fails(doc! {"$inc": {"a.b.c": 1}}, doc! {"a": {"b": null}});
    assert_eq!(
        err.to_string(),
        "Cannot create field 'c' in element {b: null}"
    );
    let err = fails(doc! {"$set": {"arr.x": 1}}, doc! {"arr": [1, 2]});
    assert_eq!(
        err.to_string(),
        "Cannot create field 'x' in element {arr: [ 1, 2 ]}"
    );
    let err = fails(doc! {"$push": {"a.b": 1}}, doc! {"a": "s"});
    assert!(matches!(err, Error::PathNotViable(_)));
    // The array removers create nothing, but an impossible path is still an error.
    let err = fails(doc! {"$pull": {"a.b": 1}}, doc! {"a": 1});
    assert_eq!(
        err,
        Error::PathNotViable(
            "Cannot use the part (b) of (a.b) to traverse the element ({a: 1})".into()
        )
    );
    assert!(matches!(
        fails(doc! {"$pullAll": {"arr.x": [1]}}, doc! {"arr": [1]}),
        Error::PathNotViable(_)
    ));
    assert!(matches!(
        fails(doc! {"$pop": {"c.d.e": 1}}, doc! {"c": {"d": "s"}}),
        Error::PathNotViable(_)
    ));
    // On a missing (but possible) path they do nothing; $unset never complains.
    let (_, m) = run(
        doc! {"$pull": {"x.y": 1, "arr.5": 1}, "$pop": {"c.q": 1}, "$unset": {"a.b": 1, "arr.x": 1}},
        doc! {"a": 1, "c": {}, "arr": [1]},
    );
    assert!(!m);
    let err = fails(
        doc! {"$unset": {"a.b": 1}, "$set": {"a.c.$[]": 1}},
        doc! {"a": 1},
    );
    assert_eq!(
        err.to_string(),
        "The path 'a.c' must exist in the document in order to apply array updates."
    );
}

#[test]
fn failed_updates_leave_the_input_alone() {
    let original = doc! {"_id": 1, "a": 1, "s": "x"};
    let update = Update::parse(&doc! {"$set": {"a": 2}, "$inc": {"s": 1}}, &[]).unwrap();
    assert!(update.apply(&original, &ctx()).is_err());
    assert_eq!(original, doc! {"_id": 1, "a": 1, "s": "x"});
}

#[test]
fn parse_rejects_replacements_and_empty_updates() {
    assert!(matches!(
        Update::parse(&doc! {"a": 1}, &[]),
        Err(Error::FailedToParse(_))
    ));
    assert!(matches!(
        Update::parse(&doc! {}, &[]),
        Err(Error::FailedToParse(_))
    ));
    assert!(matches!(
        Update::parse(&doc! {"$foo": {"a": 1}}, &[]),
        Err(Error::UnknownOperator(_))
    ));
}

// ---------------------------------------------------------------- arrays

#[test]
fn array_operators_on_documents() {
    let (d, _) = run(
        doc! {"$push": {"s": 3}, "$addToSet": {"t": "q"}},
        doc! {"s": [1, 2]},
    );
    assert_eq!(d, doc! {"s": [1, 2, 3], "t": ["q"]});
    let (_, m) = run(doc! {"$addToSet": {"t": "a"}}, doc! {"t": ["a", "b"]});
    assert!(!m);
    let (d, m) = run(
        doc! {"$pull": {"fr": {"$in": ["apples", "oranges"]}, "veg": "carrots"}},
        doc! {"fr": ["apples", "pears", "oranges"], "veg": ["carrots"]},
    );
    assert_eq!(d, doc! {"fr": ["pears"], "veg": []});
    assert!(m);
    let (d, _) = run(
        doc! {"$pull": {"v": {"$gte": 6}}},
        doc! {"v": [1, 6, 3, 8, 5]},
    );
    assert_eq!(d, doc! {"v": [1, 3, 5]});
    let (d, _) = run(
        doc! {"$pull": {"r": {"sc": {"$gt": 5}}}},
        doc! {"r": [{"sc": 3}, {"sc": 9}, 7]},
    );
    assert_eq!(d, doc! {"r": [{"sc": 3}, 7]});
    let (_, m) = run(doc! {"$pull": {"v": 9}, "$pop": {"w": 1}}, doc! {"v": [1]});
    assert!(!m);
    let err = fails(doc! {"$push": {"s": 1}}, doc! {"_id": 1, "s": 5});
    assert_eq!(
        err.to_string(),
        "The field 's' must be an array but is of type int in document {_id: 1}"
    );
    let err = fails(doc! {"$pull": {"s": 1}}, doc! {"_id": 1, "s": 5});
    assert_eq!(err.to_string(), "Cannot apply $pull to a non-array value");
}

// ---------------------------------------------------------------- positional

#[test]
fn positional_uses_the_matched_position() {
    let doc = doc! {"_id": 1, "g": [80, 85, 90]};
    let d = run_with(doc! {"$set": {"g.$": 86}}, &[], doc.clone(), at(1)).unwrap();
    assert_eq!(d.document, doc! {"_id": 1, "g": [80, 86, 90]});
    let d = run_with(
        doc! {"$inc": {"a.$.n": 1}},
        &[],
        doc! {"a": [{"n": 1}, {"n": 5}]},
        at(1),
    )
    .unwrap();
    assert_eq!(d.document, doc! {"a": [{"n": 1}, {"n": 6}]});
    let err = run_with(doc! {"$set": {"g.$": 1}}, &[], doc, ctx()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "The positional operator did not find the match needed from the query."
    );
}

#[test]
fn positional_merges_with_explicit_indexes() {
    let d = run_with(
        doc! {"$set": {"a.$.x": 1, "a.0.y": 2}},
        &[],
        doc! {"a": [{}]},
        at(0),
    )
    .unwrap();
    assert_eq!(d.document, doc! {"a": [{"x": 1, "y": 2}]});
    let err = run_with(
        doc! {"$set": {"a.$": 1, "a.0": 2}},
        &[],
        doc! {"a": [0]},
        at(0),
    )
    .unwrap_err();
    assert_eq!(
        err,
        Error::ConflictingUpdateOperators("Update created a conflict at 'a.0'".into())
    );
    // At another position there is no conflict.
    let d = run_with(
        doc! {"$set": {"a.$": 1, "a.0": 2}},
        &[],
        doc! {"a": [0, 0]},
        at(1),
    )
    .unwrap();
    assert_eq!(d.document, doc! {"a": [2, 1]});
}

#[test]
fn all_positional() {
    let (d, _) = run(doc! {"$inc": {"g.$[]": 10}}, doc! {"g": [1, 2, 3]});
    assert_eq!(d, doc! {"g": [11, 12, 13]});
    let (d, _) = run(
        doc! {"$set": {"a.$[].b.$[]": 0}},
        doc! {"a": [{"b": [1, 2]}, {"b": []}]},
    );
    assert_eq!(d, doc! {"a": [{"b": [0, 0]}, {"b": []}]});
    let (d, _) = run(doc! {"$unset": {"a.$[]": 1}}, doc! {"a": [1, 2]});
    assert_eq!(d, doc! {"a": [null, null]});
    let err = fails(doc! {"$set": {"a.$[]": 1}}, doc! {"_id": 1});
    assert_eq!(
        err.to_string(),
        "The path 'a' must exist in the document in order to apply array updates."
    );
    let err = fails(doc! {"$set": {"a.$[]": 1}}, doc! {"a": 5});
    assert_eq!(
        err.to_string(),
        "Cannot apply array updates to non-array element a: 5"
    );
    let err = fails(doc! {"$set": {"a.$[].b": 1}}, doc! {"a": [1]});
    assert_eq!(err.to_string(), "Cannot create field 'b' in element {0: 1}");
}

#[test]
fn array_filters_select_elements() {
    let filters = [doc! {"elem": {"$gte": 100}}];
    let d = run_with(
        doc! {"$set": {"g.$[elem]": 100}},
        &filters,
        doc! {"g": [95, 102, 90, 150]},
        ctx(),
    )
    .unwrap();
    assert_eq!(d.document, doc! {"g": [95, 100, 90, 100]});
    assert!(d.modified);
    let filters = [doc! {"e.a": {"$gt": 5}}];
    let d = run_with(
        doc! {"$inc": {"x.$[e].n": 1}},
        &filters,
        doc! {"x": [{"a": 1, "n": 0}, {"a": 7, "n": 0}]},
        ctx(),
    )
    .unwrap();
    assert_eq!(d.document, doc! {"x": [{"a": 1, "n": 0}, {"a": 7, "n": 1}]});
    let filters = [doc! {"i": {"$lt": 0}}];
    let d = run_with(
        doc! {"$set": {"g.$[i]": 0}},
        &filters,
        doc! {"g": [1, 2]},
        ctx(),
    )
    .unwrap();
    assert!(!d.modified);
}

#[test]
fn array_filters_nest_and_merge() {
    let filters = [doc! {"x": {"$gte": 2}}];
    let d = run_with(
        doc! {"$set": {"a.$[].b.$[x]": 0}},
        &filters,
        doc! {"a": [{"b": [1, 2, 3]}, {"b": [5]}]},
        ctx(),
    )
    .unwrap();
    assert_eq!(d.document, doc! {"a": [{"b": [1, 0, 0]}, {"b": [0]}]});
    let filters = [doc! {"x.k": 1}];
    let d = run_with(
        doc! {"$set": {"a.$[].seen": true, "a.$[x].hit": true}},
        &filters,
        doc! {"a": [{"k": 1}, {"k": 2}]},
        ctx(),
    )
    .unwrap();
    assert_eq!(
        d.document,
        doc! {"a": [{"k": 1, "hit": true, "seen": true}, {"k": 2, "seen": true}]}
    );
    let filters = [doc! {"x": 1}];
    let err = run_with(
        doc! {"$set": {"a.$[]": 0, "a.$[x]": 1}},
        &filters,
        doc! {"a": [1, 2]},
        ctx(),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "Update created a conflict at 'a.0'");
}

// ---------------------------------------------------------------- replacement

#[test]
fn replacement_keeps_id_first() {
    let update = Update::replacement(&doc! {"c": 3}).unwrap();
    assert!(update.is_replacement());
    let d = update.apply(&doc! {"_id": 1, "a": 1}, &ctx()).unwrap();
    assert_eq!(d.document, doc! {"_id": 1, "c": 3});
    assert_eq!(keys(&d.document), vec!["_id", "c"]);
    assert!(d.modified);
    let same = Update::replacement(&doc! {"_id": 1, "a": 1}).unwrap();
    assert!(
        !same
            .apply(&doc! {"_id": 1, "a": 1}, &ctx())
            .unwrap()
            .modified
    );
    let other = Update::replacement(&doc! {"_id": 2}).unwrap();
    assert!(matches!(
        other.apply(&doc! {"_id": 1}, &ctx()),
        Err(Error::ImmutableField(_))
    ));
    assert!(Update::replacement(&doc! {"$set": {"a": 1}}).is_err());
    assert!(Update::replacement(&doc! {}).is_ok());
}

// ---------------------------------------------------------------- upsert

fn upsert(filter: Document, update: Document) -> Result<Document> {
    let filter = Filter::parse(&filter)?;
    Update::parse(&update, &[])?.upsert_document(&filter, &ctx())
}

#[test]
fn upsert_seeds_from_equality_fields() {
    let d = upsert(
        doc! {"sku": "x1", "qty": {"$gt": 5}},
        doc! {"$set": {"price": 3}},
    )
    .unwrap();
    assert_eq!(d, doc! {"sku": "x1", "price": 3});
    let d = upsert(doc! {"_id": 7}, doc! {"$inc": {"n": 1}}).unwrap();
    assert_eq!(d, doc! {"_id": 7, "n": 1});
    let d = upsert(doc! {"a.b": 1, "c": 2}, doc! {"$set": {"a.d": 3}}).unwrap();
    assert_eq!(d, doc! {"a": {"b": 1, "d": 3}, "c": 2});
    let d = upsert(doc! {"k": 1}, doc! {"$set": {"k": 2}}).unwrap();
    assert_eq!(d, doc! {"k": 2});
    let d = upsert(
        doc! {"$and": [{"x": 1}, {"y": "k"}]},
        doc! {"$set": {"z": true}},
    )
    .unwrap();
    assert_eq!(d, doc! {"x": 1, "y": "k", "z": true});
}

#[test]
fn upsert_applies_set_on_insert() {
    let d = upsert(
        doc! {"_id": 3},
        doc! {"$set": {"a": 1}, "$setOnInsert": {"created": "yes"}},
    )
    .unwrap();
    assert_eq!(d, doc! {"_id": 3, "a": 1, "created": "yes"});
}

#[test]
fn upsert_errors() {
    assert!(matches!(
        upsert(doc! {"_id": 1}, doc! {"$set": {"_id": 2}}),
        Err(Error::ImmutableField(_))
    ));
    let err = upsert(doc! {"a": 1}, doc! {"$set": {"a.$": 2}}).unwrap_err();
    assert_eq!(
        err.to_string(),
        "The positional operator did not find the match needed from the query."
    );
    assert!(matches!(
        upsert(doc! {"a": 1}, doc! {"$set": {"a.b": 2}}),
        Err(Error::PathNotViable(_))
    ));
    // Without an _id in the filter, $set may choose it.
    assert_eq!(
        upsert(doc! {"a": 1}, doc! {"$set": {"_id": 5}}).unwrap(),
        doc! {"a": 1, "_id": 5}
    );
}

#[test]
fn upsert_replacement_takes_only_id() {
    let filter = Filter::parse(&doc! {"_id": 5, "name": "zz"}).unwrap();
    let update = Update::replacement(&doc! {"v": 1}).unwrap();
    let d = update.upsert_document(&filter, &ctx()).unwrap();
    assert_eq!(d, doc! {"_id": 5, "v": 1});
    let filter = Filter::parse(&doc! {"name": "zz"}).unwrap();
    assert_eq!(
        update.upsert_document(&filter, &ctx()).unwrap(),
        doc! {"v": 1}
    );
}

#[test]
fn updates_are_reusable_and_cloneable() {
    let update = Update::parse(&doc! {"$inc": {"n": 1}}, &[]).unwrap();
    let copy = update.clone();
    let once = update.apply(&doc! {"n": 1}, &ctx()).unwrap().document;
    let twice = copy.apply(&once, &ctx()).unwrap().document;
    assert_eq!(twice, doc! {"n": 3});
    assert!(format!("{update:?}").contains("Inc"));
}

#[test]
fn deep_paths_are_bounded() {
    let deep = vec!["a"; 300].join(".");
    let mut update = Document::new();
    update.insert("$set", doc! {deep: 1});
    assert!(Update::parse(&update, &[]).is_err());
    let ok = vec!["a"; 150].join(".");
    let mut update = Document::new();
    update.insert("$set", doc! {ok: 1});
    let applied = Update::parse(&update, &[])
        .unwrap()
        .apply(&doc! {}, &ctx())
        .unwrap();
    assert!(applied.modified);
}

#[test]
fn updates_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync + Clone + std::fmt::Debug>() {}
    shareable::<Update>();
    shareable::<UpdateContext>();
    shareable::<Applied>();
}
