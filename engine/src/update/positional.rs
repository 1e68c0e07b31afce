//! The positional operators: `$`, `$[]` and `$[<identifier>]` with
//! `arrayFilters`.
//!
//! * `$` stands for the array position the query matched
//!   ([`super::UpdateContext::position`]); the update tree resolves it to that
//!   index while applying (see `tree.rs`), where it merges with an explicit
//!   child of the same index.
//! * `$[]` applies its sub-update to every element of the array.
//! * `$[id]` applies its sub-update to the elements that array filter `id`
//!   accepts; each filter is a query whose top-level fields all start with
//!   the identifier: `{"e.qty": {$gt: 5}}` or `{e: {$gte: 100}}`. An element
//!   is tested as the document `{e: element}`.
//!
//! When several of them select the same element (`$[]` and `$[x]`, or two
//! filters), their sub-updates are merged for that element; two operators
//! landing on the same field is a conflict ("Update created a conflict at
//! 'a.0'"). Filters are tested against each element before that element is
//! updated.
//!
//! Identifiers must be a lowercase letter followed by letters and digits.
//! Every identifier used in a path needs a filter, and every filter must be
//! used by some path (both checked when the update is parsed).

use std::collections::BTreeMap;

use bson::{Bson, Document};

use super::Env;
use super::fields::Outcome;
use super::matcher::ElementMatcher;
use super::path::{IndexName, Trail};
use super::tree::{ArrayNode, Node, apply_node, merge};
use crate::{Error, Result};

/// Logical operators whose clauses an array filter's identifier may hide in.
const LOGICAL: [&str; 3] = ["$and", "$or", "$nor"];
const MAX_FILTER_DEPTH: usize = 200;

/// The compiled `arrayFilters` of one update, by identifier.
#[derive(Debug, Clone, Default)]
pub struct ArrayFilters {
    by_id: BTreeMap<String, ElementMatcher>,
}

impl ArrayFilters {
    /// Parses and compiles the `arrayFilters` option.
    pub fn parse(filters: &[Document]) -> Result<ArrayFilters> {
        let mut by_id = BTreeMap::new();
        for filter in filters {
            let id = identifier_of(filter)?;
            if by_id.contains_key(&id) {
                return Err(Error::FailedToParse(format!(
                    "Found multiple array filters with the same top-level field name {id}"
                )));
            }
            let matcher = ElementMatcher::for_array_filter(&id, filter)?;
            by_id.insert(id, matcher);
        }
        Ok(ArrayFilters { by_id })
    }

    /// The filter for `identifier`, if one was given.
    pub fn get(&self, identifier: &str) -> Option<&ElementMatcher> {
        self.by_id.get(identifier)
    }

    /// The identifiers, in order.
    pub fn identifiers(&self) -> impl Iterator<Item = &str> {
        self.by_id.keys().map(String::as_str)
    }
}

/// The one identifier all top-level fields of an array filter start with.
fn identifier_of(filter: &Document) -> Result<String> {
    let mut fields = Vec::new();
    collect_top_fields(filter, &mut fields, 0)?;
    let mut ids = fields.iter().map(|f| f.split('.').next().unwrap_or(f));
    let Some(id) = ids.next() else {
        return Err(Error::FailedToParse(
            "Cannot use an expression without a top-level field name in arrayFilters".into(),
        ));
    };
    if let Some(other) = ids.find(|other| *other != id) {
        return Err(Error::FailedToParse(format!(
            "Error parsing array filter :: caused by :: Expected a single top-level field name, \
             found '{id}' and '{other}'"
        )));
    }
    if !is_valid_identifier(id) {
        return Err(Error::bad_value(format!(
            "Error parsing array filter :: caused by :: The top-level field name must be an \
             alphanumeric string beginning with a lowercase letter, found '{id}'"
        )));
    }
    Ok(id.to_string())
}

/// The field names a filter constrains, looking through `$and/$or/$nor`.
fn collect_top_fields<'a>(
    filter: &'a Document,
    out: &mut Vec<&'a str>,
    depth: usize,
) -> Result<()> {
    if depth > MAX_FILTER_DEPTH {
        return Err(Error::bad_value("array filter is nested too deeply"));
    }
    for (key, value) in filter {
        if !key.starts_with('$') {
            out.push(key);
        } else if LOGICAL.contains(&key.as_str())
            && let Bson::Array(clauses) = value
        {
            for clause in clauses.iter().filter_map(Bson::as_document) {
                collect_top_fields(clause, out, depth + 1)?;
            }
        }
    }
    Ok(())
}

/// `[a-z][a-zA-Z0-9]*`: MongoDB's rule for array filter identifiers.
pub fn is_valid_identifier(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase()) && chars.all(|c| c.is_ascii_alphanumeric())
}

/// Applies an array node (`$[]` / `$[id]` children) to every element it
/// selects, in index order. When several children select one element their
/// merge is computed once per combination and reused.
pub fn apply_array(
    node: &ArrayNode,
    array: &mut [Bson],
    at: &Trail,
    env: &mut Env,
) -> Result<Outcome> {
    // The children and what selects an element for each: `$[]` takes all.
    let filters = env.filters;
    let mut candidates: Vec<(Option<&ElementMatcher>, &Node)> = Vec::new();
    if let Some(all) = node.all.as_deref() {
        candidates.push((None, all));
    }
    for (id, child) in &node.filtered {
        let matcher = filters.get(id).ok_or_else(|| {
            Error::bad_value(format!("No array filter found for identifier '{id}'"))
        })?;
        candidates.push((Some(matcher), child));
    }
    // Merged children, by the candidates that selected an element.
    let mut merged: Vec<(Vec<usize>, Node)> = Vec::new();
    let mut picks: Vec<usize> = Vec::new();
    let mut changed = false;
    for (i, element) in array.iter_mut().enumerate() {
        let name = IndexName::new(i);
        let here = at.child(name.as_str());
        picks.clear();
        for (k, (matcher, _)) in candidates.iter().enumerate() {
            if matcher.is_none_or(|m| m.matches(element)) {
                picks.push(k);
            }
        }
        let child: &Node = match picks.as_slice() {
            [] => continue,
            [one] => candidates[*one].1,
            many => {
                let index = match merged.iter().position(|(key, _)| key == many) {
                    Some(index) => index,
                    None => {
                        let mut node = candidates[many[0]].1.clone();
                        for &k in &many[1..] {
                            node = merge(&node, candidates[k].1, &here)?;
                        }
                        merged.push((many.to_vec(), node));
                        merged.len() - 1
                    }
                };
                &merged[index].1
            }
        };
        match apply_node(child, element, &here, env)? {
            Outcome::Unchanged => {}
            Outcome::Changed => changed = true,
            Outcome::Remove => {
                *element = Bson::Null;
                changed = true;
            }
        }
    }
    Ok(if changed {
        Outcome::Changed
    } else {
        Outcome::Unchanged
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn identifiers_follow_mongodb_rules() {
        assert!(is_valid_identifier("x"));
        assert!(is_valid_identifier("elem2B"));
        assert!(!is_valid_identifier("X"));
        assert!(!is_valid_identifier("1a"));
        assert!(!is_valid_identifier("a_b"));
        assert!(!is_valid_identifier(""));
    }

    #[test]
    fn identifier_comes_from_top_level_fields() {
        assert_eq!(
            identifier_of(&doc! {"e.a": 1, "e.b": {"$gt": 1}}).unwrap(),
            "e"
        );
        assert_eq!(
            identifier_of(&doc! {"$or": [{"e.a": 1}, {"e.b": 2}]}).unwrap(),
            "e"
        );
        let err = identifier_of(&doc! {"e": 1, "f": 2})
            .unwrap_err()
            .to_string();
        assert!(err.contains("found 'e' and 'f'"), "{err}");
        let err = identifier_of(&doc! {}).unwrap_err().to_string();
        assert!(err.contains("without a top-level field name"));
        let err = identifier_of(&doc! {"E": 1}).unwrap_err().to_string();
        assert!(err.contains("beginning with a lowercase letter, found 'E'"));
    }

    #[test]
    fn duplicate_identifiers_are_rejected() {
        let err = ArrayFilters::parse(&[doc! {"x": 1}, doc! {"x.a": 2}]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Found multiple array filters with the same top-level field name x"
        );
        let ok = ArrayFilters::parse(&[doc! {"x": 1}, doc! {"y": 2}]).unwrap();
        assert_eq!(ok.identifiers().collect::<Vec<_>>(), vec!["x", "y"]);
    }
}
