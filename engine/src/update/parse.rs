//! Parsing an operator update document into the update tree.
//!
//! ```text
//!  {$set: {"a.b": 1}, $push: {"c.$[x]": 2}}  +  arrayFilters [{x: {$gt: 1}}]
//!    │ each operator: known name, document operand
//!    │ each field:    valid path, known identifiers, parsed operand
//!    ▼
//!  Operators { root tree, renames, array filters }
//! ```
//!
//! Everything that can be checked without a document is checked here: an
//! empty update, fields that are not operators, unknown operators, operands
//! that are not documents, invalid paths, top-level `$`-prefixed fields, bad
//! operands, conflicting paths, identifiers without a filter and filters
//! without a use. An operator with
//! an empty operand (`{$set: {}}`) is accepted and does nothing, as in
//! MongoDB 5+.

use bson::{Bson, Document};

use super::arrays::{self, ArrayOp};
use super::fields::{self, FieldOp};
use super::matcher::ElementMatcher;
use super::path::{Segment, parse_path};
use super::positional::ArrayFilters;
use super::rename::{self, Rename};
use super::render;
use super::tree::{Leaf, ObjectNode, Op};
use crate::value::type_name;
use crate::{Error, Result};

/// The operators MongoDB's update language has.
const OPERATORS: [&str; 15] = [
    "$set",
    "$unset",
    "$inc",
    "$mul",
    "$min",
    "$max",
    "$rename",
    "$currentDate",
    "$setOnInsert",
    "$bit",
    "$push",
    "$addToSet",
    "$pop",
    "$pull",
    "$pullAll",
];

/// A parsed operator update.
#[derive(Debug, Clone)]
pub struct Operators {
    /// The tree of operators by path.
    pub root: ObjectNode,
    /// The `$rename` pairs; `RenameTo(i)` leaves refer to `renames[i]`.
    pub renames: Vec<Rename>,
    /// The compiled `arrayFilters`.
    pub filters: ArrayFilters,
    /// The first path written that touches `_id`, for the immutability message.
    pub id_path: Option<String>,
}

/// Parses an operator update and its `arrayFilters`.
pub fn parse(update: &Document, array_filters: &[Document]) -> Result<Operators> {
    if update.is_empty() {
        return Err(Error::FailedToParse(
            "Update document must not be empty".into(),
        ));
    }
    let filters = ArrayFilters::parse(array_filters)?;
    let mut parsed = Operators {
        root: ObjectNode::default(),
        renames: Vec::new(),
        filters,
        id_path: None,
    };
    let mut used: Vec<String> = Vec::new();
    for (operator, operand) in update {
        if !operator.starts_with('$') {
            return Err(Error::FailedToParse(format!(
                "Unknown modifier: {operator}. Expected a valid update modifier or pipeline-style \
                 update specified as an array"
            )));
        }
        if !OPERATORS.contains(&operator.as_str()) {
            return Err(Error::UnknownOperator(operator.clone()));
        }
        let Bson::Document(fields) = operand else {
            return Err(Error::FailedToParse(format!(
                "Modifiers operate on fields but we found type {} instead. For example: {{$mod: \
                 {{<field>: ...}}}} not {{{operator}: {}}}",
                type_name(operand),
                render::value(operand)
            )));
        };
        for (path, value) in fields {
            parsed.add(operator, path, value, &mut used)?;
        }
    }
    if let Some(unused) = parsed
        .filters
        .identifiers()
        .find(|id| !used.iter().any(|u| u == id))
    {
        return Err(Error::FailedToParse(format!(
            "The array filter for identifier '{unused}' was not used in the update {}",
            render::value(&Bson::Document(update.clone()))
        )));
    }
    Ok(parsed)
}

impl Operators {
    /// Adds one `operator: {path: value}` entry.
    fn add(
        &mut self,
        operator: &str,
        path: &str,
        value: &Bson,
        used: &mut Vec<String>,
    ) -> Result<()> {
        if operator == "$rename" {
            return self.add_rename(path, value);
        }
        let segments = parse_path(path)?;
        if operator != "$unset" {
            check_top_level_name(&segments)?;
        }
        self.check_identifiers(&segments, path, used)?;
        let op = parse_operand(operator, path, value)?;
        self.note_id_path(path);
        self.root.insert(
            &segments,
            Leaf {
                op,
                path: path.to_string(),
            },
        )
    }

    fn add_rename(&mut self, from_path: &str, value: &Bson) -> Result<()> {
        let parsed = rename::parse(from_path, value)?;
        check_top_level_name(&parsed.to)?;
        let slot = self.renames.len();
        self.note_id_path(from_path);
        self.note_id_path(&parsed.to_path);
        self.root.insert(
            &parsed.from,
            Leaf {
                op: Op::Field(FieldOp::RenameFrom),
                path: from_path.to_string(),
            },
        )?;
        self.root.insert(
            &parsed.to,
            Leaf {
                op: Op::Field(FieldOp::RenameTo(slot)),
                path: parsed.to_path,
            },
        )?;
        self.renames.push(parsed.rename);
        Ok(())
    }

    /// Every `$[id]` must have a filter; records the identifiers used.
    fn check_identifiers(
        &self,
        segments: &[Segment],
        path: &str,
        used: &mut Vec<String>,
    ) -> Result<()> {
        for segment in segments {
            if let Segment::Filtered(id) = segment {
                if self.filters.get(id).is_none() {
                    return Err(Error::bad_value(format!(
                        "No array filter found for identifier '{id}' in path '{path}'"
                    )));
                }
                if !used.contains(id) {
                    used.push(id.clone());
                }
            }
        }
        Ok(())
    }

    fn note_id_path(&mut self, path: &str) {
        let touches_id = path == "_id" || path.starts_with("_id.");
        if touches_id && self.id_path.is_none() {
            self.id_path = Some(path.to_string());
        }
    }
}

/// Documents may not have `$`-prefixed fields at the top level (below it,
/// MongoDB 5+ allows them), so no operator may create one.
fn check_top_level_name(segments: &[Segment]) -> Result<()> {
    match segments.first() {
        Some(Segment::Field(name)) if name.starts_with('$') => Err(Error::bad_value(format!(
            "The dollar ($) prefixed field '{name}' in '{name}' is not allowed in the context of \
             an update's replacement document. Consider using an aggregation pipeline with \
             $replaceWith."
        ))),
        _ => Ok(()),
    }
}

/// Parses the operand of one operator for one path.
fn parse_operand(operator: &str, path: &str, value: &Bson) -> Result<Op> {
    Ok(match operator {
        "$set" => Op::Field(FieldOp::Set(value.clone())),
        "$setOnInsert" => Op::Field(FieldOp::SetOnInsert(value.clone())),
        "$unset" => Op::Field(FieldOp::Unset),
        "$inc" | "$mul" => Op::Field(fields::parse_arithmetic(operator, path, value)?),
        "$min" => Op::Field(FieldOp::Min(value.clone())),
        "$max" => Op::Field(FieldOp::Max(value.clone())),
        "$currentDate" => Op::Field(fields::parse_current_date(value)?),
        "$bit" => Op::Field(fields::parse_bit(path, value)?),
        "$push" => Op::Array(arrays::parse_push(value)?),
        "$addToSet" => Op::Array(arrays::parse_add_to_set(value)?),
        "$pop" => Op::Array(arrays::parse_pop(path, value)?),
        "$pull" => Op::Array(ArrayOp::Pull(Box::new(ElementMatcher::for_pull(value)?))),
        "$pullAll" => Op::Array(arrays::parse_pull_all(value)?),
        other => return Err(Error::UnknownOperator(other.to_string())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn err(update: Document) -> Error {
        parse(&update, &[]).unwrap_err()
    }

    #[test]
    fn rejects_malformed_updates() {
        assert_eq!(
            err(doc! {}),
            Error::FailedToParse("Update document must not be empty".into())
        );
        assert_eq!(
            err(doc! {"$nosuch": {"a": 1}}),
            Error::UnknownOperator("$nosuch".into())
        );
        assert!(
            matches!(err(doc! {"$set": {"a": 1}, "b": 2}), Error::FailedToParse(m) if m.starts_with("Unknown modifier: b"))
        );
        let e = err(doc! {"$set": 1});
        assert!(
            e.to_string()
                .starts_with("Modifiers operate on fields but we found type int instead")
        );
        assert!(
            err(doc! {"$set": {"": 1}})
                .to_string()
                .contains("empty update path")
        );
        assert!(
            err(doc! {"$set": {"$x": 1}})
                .to_string()
                .contains("'$x' in '$x'")
        );
        assert!(
            err(doc! {"$rename": {"a": "$x"}})
                .to_string()
                .contains("'$x'")
        );
        // Below the top level, and for $unset, `$` names are plain fields.
        assert!(parse(&doc! {"$set": {"a.$x": 1}, "$unset": {"$y": 1}}, &[]).is_ok());
    }

    #[test]
    fn empty_operands_are_accepted() {
        let ops = parse(&doc! {"$set": {}, "$unset": {}}, &[]).unwrap();
        assert!(ops.root.children.is_empty());
    }

    #[test]
    fn conflicting_paths_are_rejected() {
        let msg = |u: Document| err(u).to_string();
        assert_eq!(
            msg(doc! {"$set": {"a": 1}, "$inc": {"a": 1}}),
            "Updating the path 'a' would create a conflict at 'a'"
        );
        assert_eq!(
            msg(doc! {"$set": {"a": 1, "a.b": 2}}),
            "Updating the path 'a.b' would create a conflict at 'a'"
        );
        assert_eq!(
            msg(doc! {"$set": {"a.b": 1}, "$unset": {"a": ""}}),
            "Updating the path 'a' would create a conflict at 'a'"
        );
        assert_eq!(
            msg(doc! {"$set": {"a.b": 1}, "$inc": {"a.$[].c": 1}}),
            "Updating the path 'a.$[].c' would create a conflict at 'a'"
        );
        assert_eq!(
            msg(doc! {"$rename": {"a": "b"}, "$set": {"b.c": 1}}),
            "Updating the path 'b.c' would create a conflict at 'b'"
        );
        assert!(matches!(
            err(doc! {"$set": {"a": 1}, "$push": {"a": 1}}),
            Error::ConflictingUpdateOperators(_)
        ));
        // Siblings and different positional elements do not conflict at parse time.
        assert!(parse(&doc! {"$set": {"a.b": 1, "a.c": 2, "ab": 3}}, &[]).is_ok());
        assert!(
            parse(
                &doc! {"$set": {"a.$[].b": 1, "a.$[x].c": 2}},
                &[doc! {"x.c": 1}]
            )
            .is_ok()
        );
        assert!(parse(&doc! {"$set": {"a.$": 1, "a.0": 2}}, &[]).is_ok());
    }

    #[test]
    fn array_filter_identifiers_must_match() {
        let e = parse(&doc! {"$set": {"a.$[x]": 1}}, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "No array filter found for identifier 'x' in path 'a.$[x]'"
        );
        let e = parse(
            &doc! {"$set": {"a.$[x]": 1}},
            &[doc! {"x": 1}, doc! {"y": 2}],
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("The array filter for identifier 'y' was not used in the update")
        );
        assert!(parse(&doc! {"$set": {"a.$[x]": 1}}, &[doc! {"x": 1}]).is_ok());
    }

    #[test]
    fn records_id_paths() {
        let ops = parse(&doc! {"$set": {"a": 1, "_id.x": 2}}, &[]).unwrap();
        assert_eq!(ops.id_path.as_deref(), Some("_id.x"));
        let ops = parse(&doc! {"$set": {"_idx": 1}}, &[]).unwrap();
        assert_eq!(ops.id_path, None);
    }
}
