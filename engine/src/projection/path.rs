//! Field paths as projections and sort specifications name them.
//!
//! A path is a dotted string (`"a.b.c"`) naming a field inside embedded
//! documents. MongoDB's `FieldPath` rules apply to every path a projection or
//! a sort specification names:
//!
//! * the path is not empty and does not end with `.`;
//! * no component is empty (`"a..b"`);
//! * no component starts with `$` (`$` belongs to operators and expressions);
//! * at most [`MAX_COMPONENTS`] components, so walking a path never recurses
//!   without bound.
//!
//! A numeric component (`"a.0"`) is just a field name here: what it means over
//! an array is up to the caller (sort treats it as a position, projection
//! never does).

use crate::{Error, Result};

/// The most components a path may have.
pub const MAX_COMPONENTS: usize = 200;

/// Splits `path` into its components, checking MongoDB's field path rules.
pub fn split(path: &str) -> Result<Vec<String>> {
    if path.is_empty() {
        return Err(Error::bad_value(
            "FieldPath cannot be constructed with empty string",
        ));
    }
    if path.ends_with('.') {
        return Err(Error::bad_value(format!(
            "FieldPath must not end with a '.': '{path}'"
        )));
    }
    let parts: Vec<String> = path.split('.').map(str::to_owned).collect();
    if parts.len() > MAX_COMPONENTS {
        return Err(Error::bad_value(format!(
            "FieldPath is too long: '{path}' has more than {MAX_COMPONENTS} components"
        )));
    }
    for part in &parts {
        if part.is_empty() {
            return Err(Error::bad_value(format!(
                "FieldPath field names may not be empty strings: '{path}'"
            )));
        }
        if part.starts_with('$') {
            return Err(Error::bad_value(format!(
                "FieldPath field names may not start with '$': '{path}'"
            )));
        }
    }
    Ok(parts)
}

/// The array position a path component names, when it is a canonical
/// non-negative integer (`"0"`, `"12"`, not `"01"` or `"+1"`).
pub fn array_index(component: &str) -> Option<usize> {
    let canonical = !component.is_empty()
        && component.bytes().all(|b| b.is_ascii_digit())
        && (component == "0" || !component.starts_with('0'));
    if canonical {
        component.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_dotted_paths() {
        assert_eq!(split("a").unwrap(), vec!["a"]);
        assert_eq!(split("a.b.0").unwrap(), vec!["a", "b", "0"]);
    }

    #[test]
    fn rejects_bad_paths_with_mongodb_messages() {
        let msg = |p: &str| split(p).unwrap_err().to_string();
        assert_eq!(msg(""), "FieldPath cannot be constructed with empty string");
        assert!(msg("a.").starts_with("FieldPath must not end with a '.'"));
        assert!(msg("a..b").starts_with("FieldPath field names may not be empty strings"));
        assert!(msg("$a").starts_with("FieldPath field names may not start with '$'"));
        assert!(msg("a.$b").starts_with("FieldPath field names may not start with '$'"));
        let long = vec!["x"; MAX_COMPONENTS + 1].join(".");
        assert!(msg(&long).starts_with("FieldPath is too long"));
        assert!(split(&vec!["x"; MAX_COMPONENTS].join(".")).is_ok());
    }

    #[test]
    fn array_index_accepts_only_canonical_integers() {
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("17"), Some(17));
        assert_eq!(array_index("01"), None);
        assert_eq!(array_index("-1"), None);
        assert_eq!(array_index("a"), None);
        assert_eq!(array_index(""), None);
    }
}
