//! Binary equality of values: what "did this update change anything?" means.
//!
//! MongoDB counts an update as a modification unless every operator left its
//! field *byte-for-byte* the same, so the test here is stricter than
//! [`crate::value::values_equal`]: the BSON type must match (`1` and `1.0` differ),
//! documents must have the same fields in the same order, and doubles compare
//! by bit pattern (`-0.0` differs from `0.0`; a NaN equals the same NaN).
//! (`bson`'s own `PartialEq` ignores document field order, so it is not used
//! for documents.)
//!
//! The comparison recurses into documents and arrays; values nested deeper
//! than [`MAX_DEPTH`] are reported as different, which at worst counts a
//! no-op as a modification.

use bson::{Bson, Document};

const MAX_DEPTH: usize = 200;

/// True when the two values would encode to the same BSON bytes.
pub fn identical(a: &Bson, b: &Bson) -> bool {
    identical_at(a, b, 0)
}

/// True when the two documents would encode to the same BSON bytes.
pub fn identical_documents(a: &Document, b: &Document) -> bool {
    documents_at(a, b, 0)
}

fn identical_at(a: &Bson, b: &Bson, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    match (a, b) {
        (Bson::Double(x), Bson::Double(y)) => x.to_bits() == y.to_bits(),
        (Bson::Document(x), Bson::Document(y)) => documents_at(x, y, depth + 1),
        (Bson::Array(x), Bson::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(u, v)| identical_at(u, v, depth + 1))
        }
        (Bson::JavaScriptCodeWithScope(x), Bson::JavaScriptCodeWithScope(y)) => {
            x.code == y.code && documents_at(&x.scope, &y.scope, depth + 1)
        }
        _ => std::mem::discriminant(a) == std::mem::discriminant(b) && a == b,
    }
}

fn documents_at(a: &Document, b: &Document, depth: usize) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .all(|((ka, va), (kb, vb))| ka == kb && identical_at(va, vb, depth))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{bson, doc};

    #[test]
    fn type_and_order_matter() {
        assert!(identical(&bson!(1), &bson!(1)));
        assert!(!identical(&bson!(1), &bson!(1.0)));
        assert!(!identical(&Bson::Int64(1), &Bson::Int32(1)));
        assert!(!identical(
            &bson!({"a": 1, "b": 2}),
            &bson!({"b": 2, "a": 1})
        ));
        assert!(identical(
            &bson!({"a": [1, {"b": "x"}]}),
            &bson!({"a": [1, {"b": "x"}]})
        ));
        assert!(!identical(&bson!([1, 2]), &bson!([1, 2, 3])));
        assert!(!identical(&Bson::Double(0.0), &Bson::Double(-0.0)));
        assert!(identical(&Bson::Double(f64::NAN), &Bson::Double(f64::NAN)));
        assert!(identical_documents(&doc! {"x": null}, &doc! {"x": null}));
        assert!(!identical_documents(&doc! {"x": null}, &doc! {"y": null}));
    }
}
