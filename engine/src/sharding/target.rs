//! Targeting: which routing keys can the documents matching a filter have?
//!
//! The answer may be larger than the truth (more shards asked than needed)
//! but never smaller, so it only looks at conditions that every matching
//! document must satisfy: equalities on the whole key (also inside `$and`),
//! an `$in` list on a one-field key, and comparison bounds on the first field
//! of a ranged key. Anything else targets every chunk.

use bson::{Bson, Document};

use super::ShardKeyPattern;
use crate::keycode;
use crate::query::Filter;

/// Most `$in` values turned into single-shard lookups; beyond this a query
/// is cheaper broadcast than split into many point routes.
const MAX_IN_POINTS: usize = 1000;

/// The routing keys a filter's matches can have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyTarget {
    /// Only these routing keys.
    Points(Vec<Vec<u8>>),
    /// Routing keys in the closed interval `[lo, hi]`.
    Range { lo: Vec<u8>, hi: Vec<u8> },
    /// Any routing key.
    All,
}

/// Works out the [`KeyTarget`] of `filter` for collections sharded by `key`.
/// A filter that does not parse targets everything (the shards will report
/// the error).
pub fn target_of(key: &ShardKeyPattern, filter: &Document) -> KeyTarget {
    if let Some(values) = key_equalities(key, filter) {
        return KeyTarget::Points(vec![key.routing_key(&values)]);
    }
    if key.fields.len() == 1
        && let Some(points) = in_points(key, filter)
    {
        return KeyTarget::Points(points);
    }
    if !key.hashed
        && let Some((lo, hi)) = first_field_bounds(&key.fields[0], filter)
    {
        let pad = |first: Bson, fill: Bson| {
            let mut values = vec![first];
            values.resize(key.fields.len(), fill);
            key.routing_key(&values)
        };
        return KeyTarget::Range {
            lo: pad(lo, Bson::MinKey),
            hi: pad(hi, Bson::MaxKey),
        };
    }
    KeyTarget::All
}

fn targetable(value: &Bson) -> bool {
    !matches!(
        value,
        Bson::Array(_) | Bson::RegularExpression(_) | Bson::Undefined | Bson::MinKey | Bson::MaxKey
    ) && !matches!(value, Bson::Document(d) if d.keys().any(|k| k.starts_with('$')))
}

/// The key's values when the filter pins every key field by equality.
fn key_equalities(key: &ShardKeyPattern, filter: &Document) -> Option<Vec<Bson>> {
    let equalities = Filter::parse(filter).ok()?.equality_fields().ok()?;
    key.fields
        .iter()
        .map(|field| {
            equalities
                .iter()
                .find(|(path, _)| path == field)
                .map(|(_, value)| value.clone())
                .filter(targetable)
        })
        .collect()
}

/// The conditions every match satisfies: the filter's top level and the
/// members of its top-level `$and`s.
fn conjuncts(filter: &Document) -> Vec<&Document> {
    let mut out = vec![filter];
    let mut i = 0;
    while i < out.len() {
        if let Ok(members) = out[i].get_array("$and") {
            out.extend(members.iter().filter_map(Bson::as_document));
        }
        i += 1;
    }
    out
}

/// `{k: {$in: [a, b, …]}}` on a one-field key.
fn in_points(key: &ShardKeyPattern, filter: &Document) -> Option<Vec<Vec<u8>>> {
    let field = &key.fields[0];
    conjuncts(filter).into_iter().find_map(|condition| {
        let values = condition.get_document(field).ok()?.get_array("$in").ok()?;
        if values.len() > MAX_IN_POINTS || !values.iter().all(targetable) {
            return None;
        }
        let mut points: Vec<Vec<u8>> = values
            .iter()
            .map(|v| key.routing_key(std::slice::from_ref(v)))
            .collect();
        points.sort();
        points.dedup();
        Some(points)
    })
}

/// Bounds on the first key field from `$eq/$gt/$gte/$lt/$lte` (or a plain
/// equality), loosened to closed bounds.
fn first_field_bounds(field: &str, filter: &Document) -> Option<(Bson, Bson)> {
    let mut lo: Option<Bson> = None;
    let mut hi: Option<Bson> = None;
    let tighten = |slot: &mut Option<Bson>, value: &Bson, keep_greater: bool| {
        let better = match slot {
            None => true,
            Some(current) => {
                let ord = keycode::encode(value).cmp(&keycode::encode(current));
                if keep_greater {
                    ord.is_gt()
                } else {
                    ord.is_lt()
                }
            }
        };
        if better {
            *slot = Some(value.clone());
        }
    };
    for condition in conjuncts(filter) {
        let Some(value) = condition.get(field) else {
            continue;
        };
        match value {
            Bson::Document(ops) if ops.keys().next().is_some_and(|k| k.starts_with('$')) => {
                for (op, operand) in ops {
                    if !targetable(operand) {
                        continue;
                    }
                    match op.as_str() {
                        "$eq" => {
                            tighten(&mut lo, operand, true);
                            tighten(&mut hi, operand, false);
                        }
                        "$gt" | "$gte" => tighten(&mut lo, operand, true),
                        "$lt" | "$lte" => tighten(&mut hi, operand, false),
                        _ => {}
                    }
                }
            }
            plain if targetable(plain) => {
                tighten(&mut lo, plain, true);
                tighten(&mut hi, plain, false);
            }
            _ => {}
        }
    }
    if lo.is_none() && hi.is_none() {
        return None;
    }
    Some((lo.unwrap_or(Bson::MinKey), hi.unwrap_or(Bson::MaxKey)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn key(spec: Document) -> ShardKeyPattern {
        ShardKeyPattern::parse(&spec).unwrap()
    }

    #[test]
    fn equality_on_the_whole_key_is_one_point() {
        let k = key(doc! {"a": 1, "b": 1});
        let t = target_of(&k, &doc! {"b": 2, "x": {"$gt": 1}, "$and": [{"a": "s"}]});
        assert_eq!(
            t,
            KeyTarget::Points(vec![
                k.routing_key(&[Bson::String("s".into()), Bson::Int32(2)])
            ])
        );
        let h = key(doc! {"_id": "hashed"});
        assert_eq!(
            target_of(&h, &doc! {"_id": {"$eq": 7}}),
            KeyTarget::Points(vec![h.routing_key(&[Bson::Int32(7)])])
        );
    }

    #[test]
    fn in_lists_become_points() {
        let h = key(doc! {"k": "hashed"});
        match target_of(&h, &doc! {"k": {"$in": [1, 2, 1.0]}}) {
            KeyTarget::Points(points) => assert_eq!(points.len(), 2),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            target_of(&h, &doc! {"k": {"$in": [[1], 2]}}),
            KeyTarget::All
        );
    }

    #[test]
    fn ranges_only_on_ranged_keys() {
        let k = key(doc! {"a": 1});
        assert_eq!(
            target_of(
                &k,
                &doc! {"a": {"$gte": 5, "$lt": 9}, "$and": [{"a": {"$gt": 6}}]}
            ),
            KeyTarget::Range {
                lo: keycode::encode(&Bson::Int32(6)),
                hi: keycode::encode(&Bson::Int32(9)),
            }
        );
        assert_eq!(
            target_of(&k, &doc! {"a": {"$lt": 0}}),
            KeyTarget::Range {
                lo: keycode::encode(&Bson::MinKey),
                hi: keycode::encode(&Bson::Int32(0)),
            }
        );
        let h = key(doc! {"a": "hashed"});
        assert_eq!(target_of(&h, &doc! {"a": {"$gt": 5}}), KeyTarget::All);
    }

    #[test]
    fn anything_else_targets_everything() {
        let k = key(doc! {"a": 1});
        for filter in [
            doc! {},
            doc! {"b": 1},
            doc! {"$or": [{"a": 1}, {"a": 2}]},
            doc! {"a": {"$ne": 1}},
            doc! {"a": {"$regex": "^x"}},
            doc! {"a": [1, 2]},
        ] {
            assert_eq!(target_of(&k, &filter), KeyTarget::All, "{filter}");
        }
    }
}
