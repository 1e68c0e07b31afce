//! The `$elemMatch` projection: keep only the first array element that
//! matches a condition.
//!
//! `{games: {$elemMatch: {score: {$gt: 5}}}}` compiles to the query filter
//! `{games: {$elemMatch: {score: {$gt: 5}}}}`; the element kept is the one
//! whose position that filter reports ([`Filter::match_details`]), so element
//! matching is exactly the query `$elemMatch`: documents against field
//! conditions, scalars against operator conditions (`{$gte: 2}`).

use bson::{Bson, Document, doc};

use crate::Result;
use crate::query::Filter;

/// One `field: {$elemMatch: condition}` of a projection.
#[derive(Debug, Clone)]
pub(super) struct ElemMatch {
    field: String,
    filter: Filter,
}

impl ElemMatch {
    /// Compiles the condition for top-level `field`.
    pub(super) fn parse(field: &str, condition: &Document) -> Result<ElemMatch> {
        let filter = Filter::parse(&doc! { field: { "$elemMatch": condition.clone() } })?;
        Ok(ElemMatch {
            field: field.to_owned(),
            filter,
        })
    }

    /// The projected field name.
    pub(super) fn field(&self) -> &str {
        &self.field
    }

    /// `[first matching element]` of the field in `doc`, or `None` when the
    /// field is not an array or no element matches.
    pub(super) fn first_match(&self, doc: &Document) -> Option<Bson> {
        let Some(Bson::Array(items)) = doc.get(&self.field) else {
            return None;
        };
        let position = self.filter.match_details(doc)?.array_position?;
        items
            .get(position)
            .map(|item| Bson::Array(vec![item.clone()]))
    }
}
