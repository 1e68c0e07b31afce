//! Recognising aggregation expressions inside a projection specification.
//!
//! Since MongoDB 4.4 a find projection may hold aggregation expressions:
//! `{total: {$add: ["$a", "$b"]}}`, `{copy: "$field"}`, `{x: ["$a", 1]}`.
//! The engine evaluates none of them yet (only `$literal`, which `parse.rs`
//! handles), so the parser uses these helpers to tell an expression — refused
//! as not supported, naming the operator — from an unknown `$` operator and
//! from a plain literal value.

use bson::{Bson, Document};

/// How deeply a literal value is searched for expressions.
const MAX_DEPTH: usize = 100;

/// The operator of `{$op: arg}`, when the document has exactly one field and
/// that field starts with `$`.
pub(super) fn single_operator(sub: &Document) -> Option<(&str, &Bson)> {
    let mut fields = sub.iter();
    match (fields.next(), fields.next()) {
        (Some((op, arg)), None) if op.starts_with('$') => Some((op.as_str(), arg)),
        _ => None,
    }
}

/// Describes the first aggregation expression inside a literal value: a
/// `"$path"` or `"$$variable"` string, or a `{$op: …}` document.
pub(super) fn expression_inside(value: &Bson, depth: usize) -> Option<String> {
    if depth > MAX_DEPTH {
        return Some("a value nested too deeply".to_owned());
    }
    match value {
        Bson::String(s) if s.starts_with('$') => {
            Some(format!("the field path or variable \"{s}\""))
        }
        Bson::Array(items) => items.iter().find_map(|v| expression_inside(v, depth + 1)),
        Bson::Document(d) => match single_operator(d) {
            Some((op, _)) => Some(format!("expression {op}")),
            None => d.values().find_map(|v| expression_inside(v, depth + 1)),
        },
        _ => None,
    }
}

/// Aggregation expression operators. In a find projection `{a: {$op: …}}`
/// parses as an expression when `$op` is one of these; this engine does not
/// evaluate them yet ([`crate::Error::NotSupported`]), and any other `$op` is
/// an unknown operator.
pub(super) fn is_expression_name(op: &str) -> bool {
    #[rustfmt::skip]
    const NAMES: &[&str] = &[
        "$abs", "$acos", "$acosh", "$add", "$allElementsTrue", "$and", "$anyElementTrue",
        "$arrayElemAt", "$arrayToObject", "$asin", "$asinh", "$atan", "$atan2", "$atanh", "$avg",
        "$binarySize", "$bitAnd", "$bitNot", "$bitOr", "$bitXor", "$bottom", "$bottomN",
        "$bsonSize", "$ceil", "$cmp", "$concat", "$concatArrays", "$cond", "$convert", "$cos",
        "$cosh", "$dateAdd", "$dateDiff", "$dateFromParts", "$dateFromString", "$dateSubtract",
        "$dateToParts", "$dateToString", "$dateTrunc", "$dayOfMonth", "$dayOfWeek", "$dayOfYear",
        "$degreesToRadians", "$divide", "$eq", "$exp", "$filter", "$first", "$firstN", "$floor",
        "$function", "$getField", "$gt", "$gte", "$hour", "$ifNull", "$in", "$indexOfArray",
        "$indexOfBytes", "$indexOfCP", "$isArray", "$isNumber", "$isoDayOfWeek", "$isoWeek",
        "$isoWeekYear", "$last", "$lastN", "$let", "$ln", "$log", "$log10", "$lt", "$lte",
        "$ltrim", "$map", "$max", "$maxN", "$median", "$mergeObjects", "$millisecond", "$min",
        "$minN", "$minute", "$mod", "$month", "$multiply", "$ne", "$not", "$objectToArray", "$or",
        "$percentile", "$pow", "$radiansToDegrees", "$rand", "$range", "$reduce", "$regexFind",
        "$regexFindAll", "$regexMatch", "$replaceAll", "$replaceOne", "$reverseArray", "$round",
        "$rtrim", "$sampleRate", "$second", "$setDifference", "$setEquals", "$setField",
        "$setIntersection", "$setIsSubset", "$setUnion", "$sin", "$sinh", "$size", "$sortArray",
        "$split", "$sqrt", "$stdDevPop", "$stdDevSamp", "$strcasecmp", "$strLenBytes", "$strLenCP",
        "$substr", "$substrBytes", "$substrCP", "$subtract", "$sum", "$switch", "$tan", "$tanh",
        "$toBool", "$toDate", "$toDecimal", "$toDouble", "$toHashedIndexKey", "$toInt", "$toLong",
        "$toLower", "$toObjectId", "$toString", "$toUpper", "$toUUID", "$top", "$topN", "$trim",
        "$trunc", "$tsIncrement", "$tsSecond", "$type", "$unsetField", "$week", "$year", "$zip",
    ];
    NAMES.contains(&op)
}
