//! Update paths: parsing `a.b.$[x].0` into segments, the field order updates
//! apply in, and the breadcrumb trail that names a location in error messages.
//!
//! An update path is a dotted string. Each segment is one of:
//!
//! ```text
//!   name      a field of a document, or (if all digits) an index into an array
//!   $         the array position the query matched (UpdateContext::position)
//!   $[]       every element of an array
//!   $[id]     every element matched by the array filter named `id`
//! ```
//!
//! Any other name, `$`-prefixed ones included, is a field name.
//!
//! Invariants enforced by [`parse_path`]: the path is not empty, no segment is
//! empty, at most one `$` appears, the first segment is a field name, and
//! there are at most [`MAX_PATH_SEGMENTS`] segments (bounding every recursion
//! over the update tree).

use std::cmp::Ordering;
use std::fmt;

use crate::{Error, Result};

/// The deepest update path accepted; deeper paths could not be stored anyway
/// (documents nest at most 100 levels) and would make recursion unbounded.
pub const MAX_PATH_SEGMENTS: usize = 200;

/// One segment of an update path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A field name or array index.
    Field(String),
    /// `$`: the position matched by the query.
    Positional,
    /// `$[]`: all elements of the array.
    AllPositional,
    /// `$[id]`: the elements matched by the array filter `id`.
    Filtered(String),
}

impl Segment {
    /// True for `$[]` and `$[id]`, the segments that apply to arrays only.
    pub fn is_array_segment(&self) -> bool {
        matches!(self, Segment::AllPositional | Segment::Filtered(_))
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Segment::Field(name) => f.write_str(name),
            Segment::Positional => f.write_str("$"),
            Segment::AllPositional => f.write_str("$[]"),
            Segment::Filtered(id) => write!(f, "$[{id}]"),
        }
    }
}

/// Parses and validates an update path (see the module docs for the rules).
pub fn parse_path(path: &str) -> Result<Vec<Segment>> {
    if path.is_empty() {
        return Err(Error::bad_value("An empty update path is not valid."));
    }
    let mut segments = Vec::new();
    let mut positionals = 0;
    for part in path.split('.') {
        if segments.len() == MAX_PATH_SEGMENTS {
            return Err(Error::bad_value(format!(
                "The update path '{}' has more than {MAX_PATH_SEGMENTS} parts",
                truncated(path)
            )));
        }
        let segment = parse_segment(part, path)?;
        if segment == Segment::Positional {
            positionals += 1;
            if positionals > 1 {
                return Err(Error::bad_value(format!(
                    "Too many positional (i.e. '$') elements found in path '{path}'"
                )));
            }
        }
        segments.push(segment);
    }
    match &segments[0] {
        Segment::Field(_) => Ok(segments),
        Segment::Positional => Err(Error::bad_value(format!(
            "Cannot have positional (i.e. '$') element in the first position in path '{path}'"
        ))),
        _ => Err(Error::bad_value(format!(
            "Cannot have array filter identifier (i.e. '$[<id>]') element in the first position \
             in path '{path}'"
        ))),
    }
}

fn parse_segment(part: &str, path: &str) -> Result<Segment> {
    if part.is_empty() {
        return Err(Error::bad_value(format!(
            "The update path '{path}' contains an empty field name, which is not allowed."
        )));
    }
    if part == "$" {
        return Ok(Segment::Positional);
    }
    if let Some(inner) = part.strip_prefix("$[").and_then(|p| p.strip_suffix(']')) {
        return Ok(if inner.is_empty() {
            Segment::AllPositional
        } else {
            Segment::Filtered(inner.to_string())
        });
    }
    // Other `$`-prefixed names are plain field names (MongoDB 5+ stores them
    // below the top level; see `parse.rs` for the top level).
    Ok(Segment::Field(part.to_string()))
}

/// True when the path has a positional segment (`$`, `$[]`, `$[id]`); the
/// `$rename` source and target must not.
pub fn is_dynamic(segments: &[Segment]) -> bool {
    segments.iter().any(|s| !matches!(s, Segment::Field(_)))
}

/// The array index a field name denotes: a string of decimal digits (leading
/// zeros allowed, no sign), as MongoDB reads array indexes in update paths.
pub fn array_index(name: &str) -> Option<usize> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        name.parse().ok()
    } else {
        None
    }
}

/// The order in which an update applies to the fields of one document (and
/// so the order in which it appends new fields), MongoDB's: two names that
/// start with a digit and are not zero-padded compare by length, then
/// bytewise (so `9 < 10`); any other pair compares bytewise.
pub fn compare_field_names(a: &str, b: &str) -> Ordering {
    let number_like = |s: &str| {
        s.as_bytes().first().is_some_and(u8::is_ascii_digit) && !(s.len() > 1 && s.starts_with('0'))
    };
    if number_like(a) && number_like(b) {
        a.len()
            .cmp(&b.len())
            .then_with(|| a.as_bytes().cmp(b.as_bytes()))
    } else {
        a.as_bytes().cmp(b.as_bytes())
    }
}

/// A field name ordered by [`compare_field_names`], for ordered maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldName(pub String);

impl Ord for FieldName {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_field_names(&self.0, &other.0)
    }
}

impl PartialOrd for FieldName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The location being updated, as a linked list of borrowed names from the
/// root: costs nothing to extend and is only rendered when an error needs it.
#[derive(Debug, Clone, Copy)]
pub struct Trail<'a> {
    parent: Option<&'a Trail<'a>>,
    name: &'a str,
}

impl<'a> Trail<'a> {
    /// The document root (renders as the empty path).
    pub fn root() -> Trail<'static> {
        Trail {
            parent: None,
            name: "",
        }
    }

    /// The child `name` of this location.
    pub fn child(&'a self, name: &'a str) -> Trail<'a> {
        Trail {
            parent: Some(self),
            name,
        }
    }

    /// The last path segment (the field name or array index).
    pub fn name(&self) -> &str {
        self.name
    }

    /// The dotted path from the root, e.g. `a.0.b`.
    pub fn dotted(&self) -> String {
        let mut names = Vec::new();
        let mut cur = Some(self);
        while let Some(t) = cur {
            if t.parent.is_some() {
                names.push(t.name);
            }
            cur = t.parent;
        }
        names.reverse();
        names.join(".")
    }
}

/// An array index as a field name, formatted without allocating.
pub struct IndexName {
    digits: [u8; 20],
    start: usize,
}

impl IndexName {
    /// The decimal name of index `i`.
    pub fn new(mut i: usize) -> IndexName {
        let mut digits = [b'0'; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (i % 10) as u8;
            i /= 10;
            if i == 0 {
                break;
            }
        }
        IndexName { digits, start }
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever written.
        std::str::from_utf8(&self.digits[self.start..]).unwrap_or("0")
    }
}

/// A path cut to a readable length for error messages.
fn truncated(path: &str) -> String {
    const LIMIT: usize = 120;
    match path.char_indices().nth(LIMIT) {
        Some((i, _)) => format!("{}...", &path[..i]),
        None => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_segments() {
        let segs = parse_path("a.$.b.$[].c.$[x1].0").unwrap();
        assert_eq!(
            segs,
            vec![
                Segment::Field("a".into()),
                Segment::Positional,
                Segment::Field("b".into()),
                Segment::AllPositional,
                Segment::Field("c".into()),
                Segment::Filtered("x1".into()),
                Segment::Field("0".into()),
            ]
        );
        assert!(is_dynamic(&segs));
        assert!(!is_dynamic(&parse_path("a.b").unwrap()));
    }

    #[test]
    fn rejects_bad_paths() {
        let msg = |p: &str| parse_path(p).unwrap_err().to_string();
        assert_eq!(msg(""), "An empty update path is not valid.");
        assert_eq!(
            msg("a..b"),
            "The update path 'a..b' contains an empty field name, which is not allowed."
        );
        assert_eq!(parse_path("a.$b").unwrap()[1], Segment::Field("$b".into()));
        assert_eq!(parse_path("$x").unwrap()[0], Segment::Field("$x".into()));
        assert!(msg("a.$.b.$").starts_with("Too many positional"));
        assert!(msg("$.a").contains("first position"));
        assert!(msg("$[].a").contains("first position"));
        let deep = vec!["a"; MAX_PATH_SEGMENTS + 1].join(".");
        assert!(msg(&deep).contains("more than 200 parts"));
        assert!(parse_path(&vec!["a"; MAX_PATH_SEGMENTS].join(".")).is_ok());
    }

    #[test]
    fn array_indexes_are_decimal_digits() {
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("12"), Some(12));
        assert_eq!(array_index("01"), Some(1));
        assert_eq!(array_index("+1"), None);
        assert_eq!(array_index("-1"), None);
        assert_eq!(array_index("a"), None);
        assert_eq!(array_index(""), None);
    }

    #[test]
    fn field_order_is_numeric_aware() {
        assert_eq!(compare_field_names("9", "10"), Ordering::Less);
        assert_eq!(compare_field_names("b", "a"), Ordering::Greater);
        assert_eq!(compare_field_names("10", "a"), Ordering::Less);
        assert_eq!(compare_field_names("a.b", "ab"), Ordering::Less);
        assert_eq!(compare_field_names("01", "1"), Ordering::Less);
        assert_eq!(compare_field_names("02", "10"), Ordering::Less);
        assert_eq!(compare_field_names("9a", "10"), Ordering::Greater);
    }

    #[test]
    fn index_names_are_decimal() {
        assert_eq!(IndexName::new(0).as_str(), "0");
        assert_eq!(IndexName::new(907).as_str(), "907");
        assert_eq!(IndexName::new(usize::MAX).as_str(), usize::MAX.to_string());
    }

    #[test]
    fn trail_renders_dotted_path() {
        let root = Trail::root();
        let a = root.child("a");
        let zero = a.child("0");
        assert_eq!(zero.dotted(), "a.0");
        assert_eq!(zero.name(), "0");
        assert_eq!(root.dotted(), "");
    }
}
