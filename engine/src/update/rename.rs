//! `$rename`: move a field's value to another path.
//!
//! A rename touches two places, so it is split in two:
//!
//! ```text
//!  parse:   {$rename: {"a.b": "c"}}  →  tree leaf RenameFrom at "a.b"   (reserves the path)
//!                                       tree leaf RenameTo(slot) at "c" (stores the value)
//!  apply:   1. take_sources: remove each source value into its slot
//!           2. the tree walk: RenameTo(slot) stores the slot's value
//! ```
//!
//! Taking the sources first is safe because the tree's conflict rule keeps
//! every other path of the update off the source path. A missing source makes
//! the rename a no-op. Like MongoDB: the source may not sit inside an array
//! (`a.0`), nor may the target's existing ancestors be arrays; a source path
//! through a scalar, or by name through an array, is an error; source and
//! target must differ and must not be prefixes of each other; neither may
//! contain `$`, `$[]` or `$[id]`.

use bson::{Bson, Document};

use super::path::{Segment, array_index, is_dynamic, parse_path};
use super::render;
use crate::{Error, Result};

/// One `from → to` pair of a `$rename`.
#[derive(Debug, Clone)]
pub struct Rename {
    from: Vec<String>,
    to: Vec<String>,
}

/// The parsed pair plus both paths as tree segments.
pub struct ParsedRename {
    /// The rename itself.
    pub rename: Rename,
    /// Where `RenameFrom` goes in the tree.
    pub from: Vec<Segment>,
    /// Where `RenameTo` goes in the tree.
    pub to: Vec<Segment>,
    /// The target as written.
    pub to_path: String,
}

/// Parses `{from_path: "to.path"}`.
pub fn parse(from_path: &str, operand: &Bson) -> Result<ParsedRename> {
    let Bson::String(to_path) = operand else {
        return Err(Error::bad_value(format!(
            "The 'to' field for $rename must be a string: {}",
            render::element(from_path, operand)
        )));
    };
    let from = parse_path(from_path)?;
    let to = parse_path(to_path)?;
    if is_dynamic(&from) {
        return Err(Error::bad_value(format!(
            "The source field for $rename may not be dynamic: {from_path}"
        )));
    }
    if is_dynamic(&to) {
        return Err(Error::bad_value(format!(
            "The destination field for $rename may not be dynamic: {to_path}"
        )));
    }
    if from == to {
        return Err(Error::bad_value(format!(
            "The source and target field for $rename must differ: {}",
            render::element(from_path, operand)
        )));
    }
    if from.starts_with(&to) || to.starts_with(&from) {
        return Err(Error::bad_value(format!(
            "The source and target field for $rename must not be on the same path: {}",
            render::element(from_path, operand)
        )));
    }
    let names = |segs: &[Segment]| segs.iter().map(ToString::to_string).collect();
    Ok(ParsedRename {
        rename: Rename {
            from: names(&from),
            to: names(&to),
        },
        from,
        to,
        to_path: to_path.clone(),
    })
}

/// Removes every rename source from `doc`; slot `i` receives rename `i`'s
/// value (`None` when its source is missing). Returns the slots and whether
/// anything was removed.
pub fn take_sources(renames: &[Rename], doc: &mut Document) -> Result<(Vec<Option<Bson>>, bool)> {
    let mut slots = Vec::with_capacity(renames.len());
    let mut any = false;
    for rename in renames {
        let value = if source_exists(doc, rename)? {
            check_target(doc, rename)?;
            remove_path(doc, &rename.from)
        } else {
            None
        };
        any |= value.is_some();
        slots.push(value);
    }
    Ok((slots, any))
}

/// True when the source exists; errors for a source inside an array or
/// behind a scalar.
fn source_exists(doc: &Document, rename: &Rename) -> Result<bool> {
    let path = &rename.from;
    let mut current = doc;
    for (i, part) in path.iter().enumerate() {
        let Some(value) = current.get(part) else {
            return Ok(false);
        };
        if i + 1 == path.len() {
            return Ok(true);
        }
        match (value, array_index(&path[i + 1])) {
            (Bson::Document(d), _) => current = d,
            (Bson::Array(items), Some(index)) if index < items.len() => {
                return Err(Error::bad_value(format!(
                    "The source field cannot be an array element, '{}' in doc with {} has an \
                     array field called '{part}'",
                    path.join("."),
                    id_text(doc)
                )));
            }
            // Past the end of an array: nothing to rename.
            (Bson::Array(_), Some(_)) => return Ok(false),
            // A field name on an array, or any name on a scalar.
            (other, _) => {
                return Err(Error::PathNotViable(format!(
                    "cannot use the part ({part} of {}) to traverse the element ({})",
                    path.join("."),
                    render::braced(part, other)
                )));
            }
        }
    }
    Ok(false)
}

/// The target's existing ancestors must not be arrays.
fn check_target(doc: &Document, rename: &Rename) -> Result<()> {
    let path = &rename.to;
    let mut current = doc;
    for part in &path[..path.len() - 1] {
        match current.get(part) {
            Some(Bson::Document(d)) => current = d,
            Some(Bson::Array(_)) => {
                return Err(Error::bad_value(format!(
                    "The destination field cannot be an array element, '{}' in doc with {} has an \
                     array field called '{part}'",
                    path.join("."),
                    id_text(doc)
                )));
            }
            // Missing (created later) or a scalar (the tree walk reports it).
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// Removes the value at a path of documents.
fn remove_path(doc: &mut Document, path: &[String]) -> Option<Bson> {
    let (last, parents) = path.split_last()?;
    let mut current = doc;
    for part in parents {
        match current.get_mut(part) {
            Some(Bson::Document(d)) => current = d,
            _ => return None,
        }
    }
    current.remove(last)
}

fn id_text(doc: &Document) -> String {
    doc.get("_id")
        .map_or_else(|| "no id".to_string(), |id| render::element("_id", id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{bson, doc};

    fn rename(from: &str, to: &str) -> Rename {
        parse(from, &bson!(to)).unwrap().rename
    }

    #[test]
    fn parse_rejects_bad_pairs() {
        let msg = |from: &str, to: Bson| {
            parse(from, &to)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            msg("a", bson!(1)),
            "The 'to' field for $rename must be a string: a: 1"
        );
        assert!(msg("a", bson!("a")).contains("must differ"));
        assert!(msg("a", bson!("a.b")).contains("must not be on the same path"));
        assert!(msg("a.b", bson!("a")).contains("must not be on the same path"));
        assert!(msg("a.$", bson!("b")).contains("source field for $rename may not be dynamic"));
        assert!(
            msg("a", bson!("b.$[]")).contains("destination field for $rename may not be dynamic")
        );
        assert!(parse("ab", &bson!("a")).is_ok());
    }

    #[test]
    fn takes_existing_sources_only() {
        let mut d = doc! {"_id": 1, "nick": "z", "name": {"first": "a", "last": "b"}};
        let renames = [
            rename("nick", "alias"),
            rename("name.first", "fname"),
            rename("gone", "x"),
        ];
        let (slots, any) = take_sources(&renames, &mut d).unwrap();
        assert!(any);
        assert_eq!(slots, vec![Some(bson!("z")), Some(bson!("a")), None]);
        assert_eq!(d, doc! {"_id": 1, "name": {"last": "b"}});
    }

    #[test]
    fn arrays_and_scalars_in_the_way() {
        let mut d = doc! {"_id": 1, "a": [{"b": 1}], "s": 5, "t": [1]};
        let err = take_sources(&[rename("a.0.b", "c")], &mut d).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("The source field cannot be an array element, 'a.0.b'")
        );
        // Past the end of an array there is nothing to rename.
        let (slots, _) = take_sources(&[rename("a.5.b", "c")], &mut d).unwrap();
        assert_eq!(slots, vec![None]);
        let err = take_sources(&[rename("a.b", "c")], &mut d).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot use the part (a of a.b) to traverse the element ({a: [ { b: 1 } ]})"
        );
        let err = take_sources(&[rename("s.x", "c")], &mut d).unwrap_err();
        assert!(matches!(err, Error::PathNotViable(_)));
        let err = take_sources(&[rename("s", "t.x")], &mut d).unwrap_err();
        assert!(
            err.to_string()
                .contains("destination field cannot be an array element")
        );
        assert_eq!(d, doc! {"_id": 1, "a": [{"b": 1}], "s": 5, "t": [1]});
    }
}
