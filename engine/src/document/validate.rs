//! The storage-rule walk: one pass over a document that checks nesting, field
//! names and `_id`, and adds up the size of its BSON encoding.
//!
//! The walk recurses, but never deeper than [`MAX_NESTING_DEPTH`] + 1 levels:
//! a container one level too deep is reported before its contents are
//! visited. Sizes follow the BSON spec byte for byte (the tests compare them
//! with the bson crate's own encoding):
//!
//! ```text
//! document  = int32 length, element*, 00
//! element   = type byte, field name, 00, value
//! string    = int32 length, bytes, 00          (also symbol, JavaScript)
//! binary    = int32 length, subtype, [int32 length if subtype 2], bytes
//! ```

use bson::spec::BinarySubtype;
use bson::{Bson, DbPointer, Document};

use super::{MAX_DOCUMENT_SIZE, MAX_NESTING_DEPTH};
use crate::error::{Error, Result};
use crate::value::type_name;

/// Bytes of a document with no elements: the int32 length and the final 00.
const EMPTY_DOCUMENT: usize = 5;

pub(super) fn validate(doc: &Document) -> Result<usize> {
    if let Some(id) = doc.get("_id") {
        check_id(id)?;
    }
    let size = Walk::default().document(doc, 1, Names::TopLevel)?;
    if size > MAX_DOCUMENT_SIZE {
        return Err(invalid(format!(
            "document is too large: {size} bytes, the maximum is {MAX_DOCUMENT_SIZE} bytes (16 MiB)"
        )));
    }
    Ok(size)
}

/// `_id` is the primary key: it must be a value a unique index can hold.
fn check_id(id: &Bson) -> Result<()> {
    match id {
        Bson::Array(_) | Bson::RegularExpression(_) | Bson::Undefined => Err(invalid(format!(
            "The '_id' value cannot be of type {}",
            type_name(id)
        ))),
        _ => Ok(()),
    }
}

/// Which field-name rules apply to a document's own names.
#[derive(Clone, Copy, PartialEq)]
enum Names {
    /// The stored document: no `$` names at all.
    TopLevel,
    /// An embedded document: DBRef's `$ref`, `$id`, `$db` only.
    Embedded,
    /// A JavaScript scope: variable names, only the NUL rule applies.
    Scope,
}

/// One step of the path from the stored document to the current field.
enum Step<'a> {
    Field(&'a str),
    Index(usize),
}

#[derive(Default)]
struct Walk<'a> {
    path: Vec<Step<'a>>,
}

impl<'a> Walk<'a> {
    /// Checks `doc` (at nesting level `depth`) and returns its BSON size.
    fn document(&mut self, doc: &'a Document, depth: usize, names: Names) -> Result<usize> {
        self.check_depth(depth)?;
        let mut size = EMPTY_DOCUMENT;
        let mut has_dollar_name = false;
        for (name, value) in doc {
            self.path.push(Step::Field(name));
            if name.contains('\0') {
                return Err(invalid(format!(
                    "field name {name:?} in '{}' contains a NUL byte, which BSON field names cannot hold",
                    self.path()
                )));
            }
            if name.starts_with('$') {
                match names {
                    Names::TopLevel => return Err(self.dollar_name(name)),
                    Names::Embedded => has_dollar_name = true,
                    Names::Scope => {}
                }
            }
            size += 1 + name.len() + 1 + self.value(value, depth)?;
            self.path.pop();
        }
        if has_dollar_name {
            self.check_dbref(doc)?;
        }
        Ok(size)
    }

    fn array(&mut self, array: &'a [Bson], depth: usize) -> Result<usize> {
        self.check_depth(depth)?;
        let mut size = EMPTY_DOCUMENT;
        for (index, value) in array.iter().enumerate() {
            self.path.push(Step::Index(index));
            size += 1 + decimal_digits(index) + 1 + self.value(value, depth)?;
            self.path.pop();
        }
        Ok(size)
    }

    /// The size of a value's BSON encoding (without type byte and name); a
    /// value found inside a container at level `depth`.
    fn value(&mut self, value: &'a Bson, depth: usize) -> Result<usize> {
        Ok(match value {
            Bson::Null | Bson::Undefined | Bson::MinKey | Bson::MaxKey => 0,
            Bson::Boolean(_) => 1,
            Bson::Int32(_) => 4,
            Bson::Double(_) | Bson::Int64(_) | Bson::DateTime(_) | Bson::Timestamp(_) => 8,
            Bson::ObjectId(_) => 12,
            Bson::Decimal128(_) => 16,
            Bson::String(s) | Bson::Symbol(s) | Bson::JavaScriptCode(s) => string_size(s),
            Bson::Binary(b) => {
                let old_length = if b.subtype == BinarySubtype::BinaryOld {
                    4
                } else {
                    0
                };
                4 + 1 + old_length + b.bytes.len()
            }
            Bson::RegularExpression(re) => {
                re.pattern.as_str().len() + 1 + re.options.as_str().len() + 1
            }
            Bson::DbPointer(p) => db_pointer_size(p)?,
            Bson::JavaScriptCodeWithScope(cws) => {
                4 + string_size(&cws.code) + self.document(&cws.scope, depth + 1, Names::Scope)?
            }
            Bson::Document(d) => self.document(d, depth + 1, Names::Embedded)?,
            Bson::Array(a) => self.array(a, depth + 1)?,
        })
    }

    fn check_depth(&self, depth: usize) -> Result<()> {
        if depth > MAX_NESTING_DEPTH {
            return Err(invalid(format!(
                "document exceeds the maximum nesting depth of {MAX_NESTING_DEPTH} levels of documents and arrays (at '{}')",
                self.path()
            )));
        }
        Ok(())
    }

    /// An embedded document with `$` names is only valid as a DBRef:
    /// `$ref` (a string) first, `$id` right after it, `$db` (a string)
    /// right after `$id` — MongoDB's pre-5.0 storage rule.
    fn check_dbref(&mut self, doc: &'a Document) -> Result<()> {
        let fields: Vec<(&'a str, &'a Bson)> = doc.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let name_at = |i: Option<usize>| i.and_then(|i| fields.get(i)).map(|(name, _)| *name);
        for (i, &(name, value)) in fields.iter().enumerate() {
            let problem = match name {
                "$ref" if !matches!(value, Bson::String(_)) => {
                    format!(
                        "The DBRef $ref field must be a String, not a {}",
                        type_name(value)
                    )
                }
                "$ref" if name_at(Some(i + 1)) != Some("$id") => {
                    "The DBRef $ref field must be followed by a $id field".to_string()
                }
                "$id" if name_at(i.checked_sub(1)) != Some("$ref") => {
                    "Found $id field without a $ref before it, which is invalid.".to_string()
                }
                "$db" if !matches!(value, Bson::String(_)) => {
                    format!(
                        "The DBRef $db field must be a String, not a {}",
                        type_name(value)
                    )
                }
                "$db" if name_at(i.checked_sub(1)) != Some("$id") => {
                    "Found $db field without a $id before it, which is invalid.".to_string()
                }
                "$ref" | "$id" | "$db" => continue,
                other if other.starts_with('$') => {
                    self.path.push(Step::Field(other));
                    return Err(self.dollar_name(other));
                }
                _ => continue,
            };
            return Err(invalid(format!("{problem} (in '{}')", self.path())));
        }
        Ok(())
    }

    /// The error for a `$`-prefixed field name; `self.path` ends at it.
    fn dollar_name(&self, name: &str) -> Error {
        invalid(format!(
            "The dollar ($) prefixed field '{name}' in '{}' is not valid for storage.",
            self.path()
        ))
    }

    /// The current path in dotted form (`a.0.b`).
    fn path(&self) -> String {
        let mut out = String::new();
        for (i, step) in self.path.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            match step {
                Step::Field(name) => out.push_str(name),
                Step::Index(index) => out.push_str(&index.to_string()),
            }
        }
        out
    }
}

fn invalid(msg: String) -> Error {
    Error::InvalidDocument(msg)
}

/// BSON string: int32 length, the bytes, a 00.
fn string_size(s: &str) -> usize {
    4 + s.len() + 1
}

/// The number of decimal digits of an array index (its BSON field name).
fn decimal_digits(mut n: usize) -> usize {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

/// A DBPointer is a namespace string and an ObjectId; the bson crate keeps
/// the namespace private, so measure the deprecated type by encoding it.
fn db_pointer_size(p: &DbPointer) -> Result<usize> {
    let mut doc = Document::new();
    doc.insert("", Bson::DbPointer(p.clone()));
    // Wrapper: length (4), type byte, empty name's 00, value, final 00.
    Ok(doc.to_vec()?.len() - (4 + 1 + 1 + 1))
}
