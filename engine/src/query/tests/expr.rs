//! `$expr`: aggregation expressions in filters, their errors, and a write
//! whose `$expr` fails.

use super::*;
use crate::aggregate::Env;

fn docs() -> Vec<Document> {
    vec![
        doc! {"_id": 1, "spent": 400, "budget": 450, "flag": 0},
        doc! {"_id": 2, "spent": 500, "budget": 400, "flag": ""},
        doc! {"_id": 3, "spent": 150, "budget": 100, "flag": []},
        doc! {"_id": 4, "spent": 100, "flag": Bson::Null},
        doc! {"_id": 5, "budget": Bson::Null},
    ]
}

#[test]
fn expr_at_the_top_level_compares_fields_of_one_document() {
    assert_eq!(
        ids(doc! {"$expr": {"$gt": ["$spent", "$budget"]}}, &docs()),
        // Missing budget sorts below any number: 100 > missing.
        ["2", "3", "4"]
    );
    assert_eq!(
        ids(
            doc! {"spent": {"$gte": 150}, "$expr": {"$lt": ["$spent", "$budget"]}},
            &docs()
        ),
        ["1"]
    );
    // Unlike {budget: null}, $eq to null does not match a missing field.
    assert_eq!(
        ids(doc! {"$expr": {"$eq": ["$budget", null]}}, &docs()),
        ["5"]
    );
    assert_eq!(ids(doc! {"budget": null}, &docs()), ["4", "5"]);
    // The value's truthiness decides: 0, null and missing are false.
    assert_eq!(ids(doc! {"$expr": "$flag"}, &docs()), ["2", "3"]);
    assert_eq!(ids(doc! {"$expr": {"$literal": true}}, &docs()).len(), 5);
}

#[test]
fn expr_inside_logical_operators() {
    assert_eq!(
        ids(
            doc! {"$or": [{"_id": 5}, {"$expr": {"$eq": [{"$mod": ["$spent", 200]}, 100]}}]},
            &docs()
        ),
        ["2", "4", "5"]
    );
    assert_eq!(
        ids(
            doc! {"$nor": [{"$expr": {"$gt": ["$spent", 200]}}]},
            &docs()
        ),
        ["3", "4", "5"]
    );
    assert_eq!(
        ids(
            doc! {"$and": [{"$expr": {"$gt": ["$spent", 100]}}, {"$expr": {"$ne": ["$flag", 0]}}]},
            &docs()
        ),
        ["2", "3"]
    );
}

#[test]
fn expr_is_refused_where_mongodb_refuses_it() {
    let e =
        Filter::parse(&doc! {"arr": {"$elemMatch": {"$expr": {"$eq": ["$a", 1]}}}}).unwrap_err();
    assert!(
        e.to_string()
            .contains("$expr can only be applied to the top-level document"),
        "{e}"
    );
    // Expression errors are parse errors of the filter.
    let e = Filter::parse(&doc! {"$expr": {"$bogus": 1}}).unwrap_err();
    assert!(
        e.to_string().contains("Unrecognized expression '$bogus'"),
        "{e}"
    );
    let e = Filter::parse(&doc! {"$expr": "$$x"}).unwrap_err();
    assert!(
        e.to_string().contains("Use of undefined variable: x"),
        "{e}"
    );
    // A plain filter has no clock; one given an environment has $$NOW.
    let now = doc! {"$expr": {"$lt": ["$at", "$$NOW"]}};
    assert!(Filter::parse(&now).is_err());
    let f = Filter::parse_with(&now, &Env::at(10_000)).unwrap();
    let at = |ms: i64| doc! {"at": Bson::DateTime(bson::DateTime::from_millis(ms))};
    assert!(f.matches(&at(9_999)));
    assert!(!f.matches(&at(10_000)));
    // Outside variables come from the environment.
    let f = Filter::parse_with(
        &doc! {"$expr": {"$eq": ["$spent", "$$target"]}},
        &Env::at(0).with_var("target", Bson::Int32(500)),
    )
    .unwrap();
    assert_eq!(docs().iter().filter(|d| f.matches(d)).count(), 1);
}

#[test]
fn an_evaluation_error_is_reported_by_try_matches() {
    let f = Filter::parse(&doc! {"$expr": {"$gt": [{"$divide": [100, "$n"]}, 10]}}).unwrap();
    assert_eq!(f.try_matches(&doc! {"n": 5}), Ok(true));
    assert_eq!(f.try_matches(&doc! {"n": 50}), Ok(false));
    assert_eq!(f.check(), Ok(()));
    // matches() says false; try_matches() and check() report the error.
    assert!(!f.matches(&doc! {"n": 0}));
    let e = f.check().unwrap_err();
    assert_eq!(e.code_name(), "BadValue");
    assert!(e.to_string().contains("can't $divide by zero"), "{e}");
    let f = Filter::parse(&doc! {"$expr": {"$size": "$n"}}).unwrap();
    let e = f.try_matches(&doc! {"n": 1}).unwrap_err();
    assert_eq!(e.code_name(), "TypeMismatch");
    assert!(e.to_string().contains("$size"), "{e}");
    // A clause that is not needed is not evaluated ($or stops at a match).
    let f = Filter::parse(&doc! {"$or": [{"n": 0}, {"$expr": {"$divide": [1, "$n"]}}]}).unwrap();
    assert_eq!(f.try_matches(&doc! {"n": 0}), Ok(true));
}

mod writes {
    use bson::{Document, doc};

    use crate::command::{Command, Namespace, Operation, UpdateKind};
    use crate::engine::{Engine, FindOptions, ReadAt};

    fn ns() -> Namespace {
        Namespace::new("app", "budgets")
    }

    fn apply(engine: &Engine, op: Operation) -> crate::Result<crate::command::Outcome> {
        let command = Command {
            request: None,
            now_millis: 1_000,
            op,
        };
        engine.apply(&command, 0).unwrap().result
    }

    fn update(filter: Document, update: Document) -> Operation {
        Operation::Update {
            ns: ns(),
            filter,
            kind: UpdateKind::Operators {
                update,
                array_filters: vec![],
            },
            multi: true,
            upsert: false,
            upsert_id: None,
        }
    }

    fn all(engine: &Engine) -> Vec<Document> {
        engine
            .find(&ns(), &FindOptions::default(), ReadAt::Latest)
            .unwrap()
    }

    fn engine() -> Engine {
        let engine = Engine::in_memory();
        apply(
            &engine,
            Operation::Insert {
                ns: ns(),
                documents: vec![
                    doc! {"_id": 1, "spent": 500, "budget": 400},
                    doc! {"_id": 2, "spent": 100, "budget": 0},
                    doc! {"_id": 3, "spent": 10, "budget": 20},
                ],
                ordered: true,
            },
        )
        .unwrap();
        engine
    }

    #[test]
    fn an_update_filtered_by_expr_changes_the_matching_documents() {
        let engine = engine();
        apply(
            &engine,
            update(
                doc! {"$expr": {"$gt": ["$spent", "$budget"]}},
                doc! {"$set": {"over": true}},
            ),
        )
        .unwrap();
        assert_eq!(
            all(&engine),
            vec![
                doc! {"_id": 1, "spent": 500, "budget": 400, "over": true},
                doc! {"_id": 2, "spent": 100, "budget": 0, "over": true},
                doc! {"_id": 3, "spent": 10, "budget": 20},
            ]
        );
        // $$NOW in a write's filter is the command's stamp (1 000 ms).
        apply(
            &engine,
            update(
                doc! {"$expr": {"$eq": ["$$NOW", {"$toDate": 1_000_i64}]}, "_id": 3},
                doc! {"$set": {"stamped": true}},
            ),
        )
        .unwrap();
        assert_eq!(all(&engine)[2].get_bool("stamped").ok(), Some(true));
    }

    #[test]
    fn an_update_whose_expr_fails_changes_nothing() {
        let engine = engine();
        let before = all(&engine);
        let e = apply(
            &engine,
            update(
                doc! {"$expr": {"$gt": [{"$divide": ["$spent", "$budget"]}, 1]}},
                doc! {"$inc": {"spent": 1}},
            ),
        )
        .unwrap_err();
        assert_eq!(e.code_name(), "BadValue");
        assert!(e.to_string().contains("can't $divide by zero"), "{e}");
        // Document 1 matched before document 2 failed: still untouched.
        assert_eq!(all(&engine), before);
        // A delete fails the same way.
        let e = apply(
            &engine,
            Operation::Delete {
                ns: ns(),
                filter: doc! {"$expr": {"$divide": ["$spent", "$budget"]}},
                multi: true,
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("can't $divide by zero"), "{e}");
        assert_eq!(all(&engine), before);
    }
}
