//! Tests on single array elements: `$pull` conditions and `arrayFilters`.
//!
//! Both are written in the query language but judge one array element at a
//! time. An element is not a document, so the compiled [`Filter`] runs on a
//! one-field wrapper `{key: element}` (the element is moved in and back out,
//! never copied):
//!
//! ```text
//!   $pull: {v: {$gte: 6}}            → filter {"v": {$gte: 6}}  on {"v": element}
//!   arrayFilters: [{"e.a": {$gt: 5}}] → filter as written        on {"e": element}
//!   $pull: {r: {sc: 8, item: "B"}}    → filter {sc: 8, item: "B"} on the element itself
//!                                       (documents only)
//!   $pull: {veg: "carrots"}           → values_equal(element, "carrots")
//! ```
//!
//! A `$pull` condition is an *operator condition* when it is a regular
//! expression or a document whose first field is a field operator (`$gt`,
//! `$in`, …); a *query* on embedded documents when it is any other document
//! (plain fields, `$and`/`$or`/…, or `{}`, which pulls every document); and a
//! plain value otherwise — MongoDB's three `$pull` matchers.

use bson::{Bson, Document};

use crate::Result;
use crate::query::Filter;
use crate::value::values_equal;

/// The field name `$pull` operator conditions are wrapped under.
const PULL_KEY: &str = "v";

/// A compiled test on one array element.
#[derive(Debug, Clone)]
pub enum ElementMatcher {
    /// Equal under [`values_equal`] to this value.
    Equals(Bson),
    /// A document matched by this query.
    Query(Filter),
    /// `{key: element}` matched by this filter.
    Wrapped {
        /// The field the element is placed under.
        key: String,
        /// The filter, written against `key`.
        filter: Filter,
    },
}

impl ElementMatcher {
    /// Compiles a `$pull` condition.
    pub fn for_pull(condition: &Bson) -> Result<ElementMatcher> {
        match condition {
            Bson::RegularExpression(_) => Self::wrapped(condition),
            Bson::Document(d) if is_operator_document(d) => Self::wrapped(condition),
            Bson::Document(query) => Ok(ElementMatcher::Query(Filter::parse(query)?)),
            value => Ok(ElementMatcher::Equals(value.clone())),
        }
    }

    /// `{v: condition}`, matched against `{v: element}`.
    fn wrapped(condition: &Bson) -> Result<ElementMatcher> {
        let mut wrapper = Document::new();
        wrapper.insert(PULL_KEY, condition.clone());
        Ok(ElementMatcher::Wrapped {
            key: PULL_KEY.to_string(),
            filter: Filter::parse(&wrapper)?,
        })
    }

    /// Compiles an array filter whose top-level fields all start with
    /// `identifier`.
    pub fn for_array_filter(identifier: &str, filter: &Document) -> Result<ElementMatcher> {
        Ok(ElementMatcher::Wrapped {
            key: identifier.to_string(),
            filter: Filter::parse(filter)?,
        })
    }

    /// True when the element passes. The element is borrowed mutably only to
    /// move it into the wrapper document and back; it is left unchanged.
    pub fn matches(&self, element: &mut Bson) -> bool {
        match self {
            ElementMatcher::Equals(value) => values_equal(element, value),
            ElementMatcher::Query(filter) => match element {
                Bson::Document(d) => filter.matches(d),
                _ => false,
            },
            ElementMatcher::Wrapped { key, filter } => {
                let mut wrapper = Document::new();
                wrapper.insert(key.as_str(), std::mem::take(element));
                let hit = filter.matches(&wrapper);
                if let Some(v) = wrapper.remove(key) {
                    *element = v;
                }
                hit
            }
        }
    }
}

/// True for `{$op: …}` documents whose first operator applies to a field;
/// top-level query operators and a DBRef's fields make a query instead.
fn is_operator_document(d: &Document) -> bool {
    const NOT_FIELD_OPERATORS: [&str; 11] = [
        "$and",
        "$or",
        "$nor",
        "$expr",
        "$where",
        "$text",
        "$comment",
        "$jsonSchema",
        "$ref",
        "$id",
        "$db",
    ];
    d.keys()
        .next()
        .is_some_and(|k| k.starts_with('$') && !NOT_FIELD_OPERATORS.contains(&k.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::bson;

    fn check(m: &ElementMatcher, v: Bson) -> bool {
        let mut e = v.clone();
        let hit = m.matches(&mut e);
        assert_eq!(e, v, "the element is restored");
        hit
    }

    #[test]
    fn plain_values_use_equality() {
        let m = ElementMatcher::for_pull(&bson!("carrots")).unwrap();
        assert!(check(&m, bson!("carrots")));
        assert!(!check(&m, bson!("celery")));
        let m = ElementMatcher::for_pull(&bson!(1)).unwrap();
        assert!(check(&m, bson!(1.0)));
        let m = ElementMatcher::for_pull(&bson!([1, 2])).unwrap();
        assert!(check(&m, bson!([1, 2])));
        assert!(!check(&m, bson!(1)));
    }

    #[test]
    fn operators_and_regexes_test_the_element_itself() {
        let m = ElementMatcher::for_pull(&bson!({"$gte": 6})).unwrap();
        assert!(check(&m, bson!(8)));
        assert!(!check(&m, bson!(5)));
        assert!(!check(&m, bson!("x")));
        let regex = Bson::RegularExpression(bson::Regex {
            pattern: "^ap".try_into().unwrap(),
            options: "".try_into().unwrap(),
        });
        let m = ElementMatcher::for_pull(&regex).unwrap();
        assert!(check(&m, bson!("apples")));
        assert!(!check(&m, bson!("pears")));
    }

    #[test]
    fn documents_are_queries_on_document_elements() {
        let m = ElementMatcher::for_pull(&bson!({"sc": 8, "item": "B"})).unwrap();
        assert!(check(&m, bson!({"item": "B", "sc": 8, "x": 1})));
        assert!(!check(&m, bson!({"item": "C", "sc": 8})));
        assert!(!check(&m, bson!(8)));
        let either = ElementMatcher::for_pull(&bson!({"$or": [{"a": 1}, {"b": 2}]})).unwrap();
        assert!(check(&either, bson!({"b": 2})));
        assert!(!check(&either, bson!({"a": 2})));
        let all = ElementMatcher::for_pull(&bson!({})).unwrap();
        assert!(check(&all, bson!({"a": 1})));
        assert!(!check(&all, bson!(1)));
    }
}
