//! Values rendered the way MongoDB's error messages render them
//! (`BSONElement::toString`): `{ a: 1, b: "x" }`, `[ 1, 2 ]`, `a: 1`.
//!
//! Used only to build error messages, so that a message such as
//! `Cannot create field 'b' in element {a: 1}` reads like MongoDB's. Output is
//! bounded: nesting deeper than [`MAX_DEPTH`] renders as `...`, and long
//! documents or arrays are cut after [`MAX_ITEMS`] items.

use std::fmt::Write;

use bson::Bson;

const MAX_DEPTH: usize = 20;
const MAX_ITEMS: usize = 50;

/// Renders `name: value`, as MongoDB renders one element.
pub fn element(name: &str, value: &Bson) -> String {
    let mut out = String::new();
    out.push_str(name);
    out.push_str(": ");
    write_value(&mut out, value, 0);
    out
}

/// Renders `{name: value}`, as MongoDB renders an element in braces
/// (`{_id: 1}` in "… {_id: 1} has the field …").
pub fn braced(name: &str, value: &Bson) -> String {
    format!("{{{}}}", element(name, value))
}

/// Renders the document's `_id` as `{_id: 1}`, or `{}` when it has none.
pub fn id_of(id: Option<&Bson>) -> String {
    id.map_or_else(|| "{}".to_string(), |id| braced("_id", id))
}

/// Renders a value alone.
pub fn value(v: &Bson) -> String {
    let mut out = String::new();
    write_value(&mut out, v, 0);
    out
}

fn write_value(out: &mut String, v: &Bson, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("...");
        return;
    }
    match v {
        Bson::Document(d) => {
            let items = d.iter().map(|(k, v)| (Some(k.as_str()), v));
            write_items(out, "{", "}", items, d.len(), depth)
        }
        Bson::Array(a) => write_items(out, "[", "]", a.iter().map(|v| (None, v)), a.len(), depth),
        Bson::String(s) | Bson::Symbol(s) => {
            let _ = write!(out, "\"{s}\"");
        }
        Bson::Double(f) => write_double(out, *f),
        Bson::Int32(i) => {
            let _ = write!(out, "{i}");
        }
        Bson::Int64(i) => {
            let _ = write!(out, "{i}");
        }
        Bson::Decimal128(d) => {
            let _ = write!(out, "NumberDecimal(\"{d}\")");
        }
        Bson::Boolean(b) => {
            let _ = write!(out, "{b}");
        }
        Bson::Null => out.push_str("null"),
        Bson::Undefined => out.push_str("undefined"),
        Bson::MinKey => out.push_str("MinKey"),
        Bson::MaxKey => out.push_str("MaxKey"),
        Bson::ObjectId(id) => {
            let _ = write!(out, "ObjectId('{id}')");
        }
        Bson::DateTime(d) => {
            let _ = write!(out, "new Date({})", d.timestamp_millis());
        }
        Bson::Timestamp(t) => {
            let _ = write!(out, "Timestamp({}, {})", t.time, t.increment);
        }
        Bson::RegularExpression(r) => {
            let _ = write!(out, "/{}/{}", r.pattern.as_str(), r.options.as_str());
        }
        Bson::Binary(b) => {
            let _ = write!(out, "BinData({}, ", u8::from(b.subtype));
            for byte in b.bytes.iter().take(64) {
                let _ = write!(out, "{byte:02X}");
            }
            out.push(')');
        }
        Bson::JavaScriptCode(code) => out.push_str(code),
        Bson::JavaScriptCodeWithScope(c) => out.push_str(&c.code),
        Bson::DbPointer(_) => out.push_str("DBPointer(...)"),
    }
}

fn write_items<'a>(
    out: &mut String,
    open: &str,
    close: &str,
    items: impl Iterator<Item = (Option<&'a str>, &'a Bson)>,
    total: usize,
    depth: usize,
) {
    if total == 0 {
        out.push_str(open);
        out.push_str(close);
        return;
    }
    out.push_str(open);
    out.push(' ');
    for (i, (name, v)) in items.enumerate() {
        if i == MAX_ITEMS {
            let _ = write!(out, ", ...{} more", total - MAX_ITEMS);
            break;
        }
        if i > 0 {
            out.push_str(", ");
        }
        if let Some(name) = name {
            out.push_str(name);
            out.push_str(": ");
        }
        write_value(out, v, depth + 1);
    }
    out.push(' ');
    out.push_str(close);
}

/// Doubles print with a fractional part (`1.0`, `2.5`), like the shell.
fn write_double(out: &mut String, f: f64) {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        let _ = write!(out, "{f:.1}");
    } else {
        let _ = write!(out, "{f}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{bson, doc};

    #[test]
    fn renders_like_mongodb() {
        assert_eq!(braced("a", &Bson::Int32(1)), "{a: 1}");
        assert_eq!(
            element("a", &bson!({"b": 1, "c": "x"})),
            "a: { b: 1, c: \"x\" }"
        );
        assert_eq!(
            element("arr", &bson!([1, 2.5, null])),
            "arr: [ 1, 2.5, null ]"
        );
        assert_eq!(value(&Bson::Double(3.0)), "3.0");
        assert_eq!(value(&bson!({})), "{}");
        assert_eq!(value(&bson!([])), "[]");
        assert_eq!(id_of(Some(&Bson::String("k".into()))), "{_id: \"k\"}");
        assert_eq!(id_of(None), "{}");
        assert_eq!(
            value(&Bson::Document(doc! {"d": bson::DateTime::from_millis(5)})),
            "{ d: new Date(5) }"
        );
    }

    #[test]
    fn bounds_output() {
        let long: Vec<Bson> = (0..100).map(Bson::Int32).collect();
        assert!(value(&Bson::Array(long)).ends_with(", ...50 more ]"));
        let mut deep = Bson::Int32(1);
        for _ in 0..50 {
            deep = Bson::Array(vec![deep]);
        }
        assert!(value(&deep).contains("..."));
    }
}
