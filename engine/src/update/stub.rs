//! TEMPORARY stand-in for `crate::query::Filter` until the query branch is
//! merged (top-level equality only). Removed at the merge.

use bson::{Bson, Document};

use crate::Result;
use crate::value::values_equal;

#[derive(Debug, Clone)]
pub struct Filter(Document);

impl Filter {
    pub fn parse(filter: &Document) -> Result<Filter> {
        Ok(Filter(filter.clone()))
    }
    pub fn matches(&self, doc: &Document) -> bool {
        self.0
            .iter()
            .all(|(k, v)| doc.get(k).is_some_and(|d| values_equal(d, v)))
    }
    pub fn equality_fields(&self) -> Result<Vec<(String, Bson)>> {
        Ok(self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
    pub fn id_equality(&self) -> Option<&Bson> {
        self.0.get("_id")
    }
}
