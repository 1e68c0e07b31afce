//! Writing dotted paths into documents, the way pipeline stages do.
//!
//! `$addFields: {"a.b": 1}`, `$unwind`'s replacement element and
//! `$lookup`'s `as` all set a value at a dotted path:
//!
//! * missing intermediate fields, and intermediate values that are not
//!   documents, become documents (`{a: 5}` → `{a: {b: 1}}`);
//! * an intermediate **array** gets the rest of the path set in each of its
//!   elements (documents are extended, other elements replaced by
//!   documents), as in MongoDB;
//! * setting *missing* (`$$REMOVE`, a path to nothing) removes the field.

use bson::{Bson, Document};

/// Sets (or, for `None`, removes) the value at `path` in `doc`.
pub(crate) fn set_path(doc: &mut Document, path: &[String], value: Option<Bson>) {
    let Some((head, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        match value {
            Some(v) => {
                doc.insert(head.clone(), v);
            }
            None => {
                doc.remove(head);
            }
        }
        return;
    }
    match doc.get_mut(head) {
        Some(Bson::Document(child)) => set_path(child, rest, value),
        Some(Bson::Array(items)) => set_in_array(items, rest, &value),
        _ => {
            if value.is_none() {
                return;
            }
            let mut child = Document::new();
            set_path(&mut child, rest, value);
            doc.insert(head.clone(), child);
        }
    }
}

fn set_in_array(items: &mut [Bson], path: &[String], value: &Option<Bson>) {
    for item in items.iter_mut() {
        match item {
            Bson::Document(child) => set_path(child, path, value.clone()),
            Bson::Array(inner) => set_in_array(inner, path, value),
            other => {
                if value.is_some() {
                    let mut child = Document::new();
                    set_path(&mut child, path, value.clone());
                    *other = Bson::Document(child);
                }
            }
        }
    }
}

/// The value at a dotted path through documents only (no array traversal):
/// what `$unwind` unwinds.
pub(crate) fn get_path<'d>(doc: &'d Document, path: &[String]) -> Option<&'d Bson> {
    let (head, rest) = path.split_first()?;
    let value = doc.get(head)?;
    if rest.is_empty() {
        return Some(value);
    }
    match value {
        Bson::Document(child) => get_path(child, rest),
        _ => None,
    }
}

/// Splits a dotted path into its components.
pub(crate) fn split(path: &str) -> Vec<String> {
    path.split('.').map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn set_path_creates_replaces_and_fans_out() {
        let mut d = doc! { "a": 5, "arr": [{ "x": 1 }, 2, [{ "x": 3 }]] };
        set_path(&mut d, &split("a.b"), Some(Bson::Int32(1)));
        set_path(&mut d, &split("arr.y"), Some(Bson::Int32(9)));
        set_path(&mut d, &split("new.deep.z"), Some(Bson::Int32(0)));
        assert_eq!(
            d,
            doc! {
                "a": { "b": 1 },
                "arr": [{ "x": 1, "y": 9 }, { "y": 9 }, [{ "x": 3, "y": 9 }]],
                "new": { "deep": { "z": 0 } },
            }
        );
        set_path(&mut d, &split("a.b"), None);
        set_path(&mut d, &split("nothing.here"), None);
        assert_eq!(d.get_document("a").unwrap(), &doc! {});
        assert!(!d.contains_key("nothing"));
    }
}
