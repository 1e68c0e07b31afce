//! The compiled form of a projection: a tree of path components.
//!
//! `{"a.b": 1, "a.c": {$slice: 2}, d: "x"}` compiles to
//!
//! ```text
//!  root ─┬─ a ─┬─ b   Include
//!        │     └─ c   Slice(first 2)
//!        └─ d         Literal("x")
//! ```
//!
//! Children keep the order of the specification (computed fields are added in
//! that order). Invariant: a leaf never has a sibling path below it — `{a: 1,
//! "a.b": 1}` is rejected as a path collision while the tree is built.

use bson::Bson;

/// One level of the projection tree.
#[derive(Debug, Clone, Default)]
pub(super) struct Node {
    /// Children in specification order.
    pub(super) children: Vec<(String, Child)>,
    /// True when a literal lies somewhere below: such a subtree creates fields
    /// even where the document has none.
    pub(super) has_computed: bool,
}

/// What the projection does with one field.
#[derive(Debug, Clone)]
pub(super) enum Child {
    /// Keep the field (`1`/`true`, or the path of a positional `$`).
    Include,
    /// Drop the field (`0`/`false`).
    Exclude,
    /// Keep part of an array field (`{$slice: …}`).
    Slice(Slice),
    /// Set the field to a value (`"x"`, `{$literal: …}`).
    Literal(Bson),
    /// A top-level `{$elemMatch: …}` (applied after the rest, see `apply.rs`).
    ElemMatch,
    /// Apply a sub-projection to the field's documents.
    Inner(Node),
}

impl Node {
    /// The child for field `name`.
    pub(super) fn get(&self, name: &str) -> Option<&Child> {
        self.children
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c)
    }

    pub(super) fn get_mut(&mut self, name: &str) -> Option<&mut Child> {
        self.children
            .iter_mut()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c)
    }

    /// Removes the child for `name`, if any.
    pub(super) fn remove(&mut self, name: &str) {
        self.children.retain(|(n, _)| n != name);
    }

    /// Sets `has_computed` throughout the subtree; returns this node's value.
    pub(super) fn mark_computed(&mut self) -> bool {
        let mut computed = false;
        for (_, child) in &mut self.children {
            computed |= match child {
                Child::Literal(_) => true,
                Child::Inner(node) => node.mark_computed(),
                _ => false,
            };
        }
        self.has_computed = computed;
        computed
    }
}

/// A find `$slice`: `n` (first n, or last -n) or `[skip, limit]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slice {
    /// `{$slice: n}`.
    Count(i64),
    /// `{$slice: [skip, limit]}`; a negative skip counts from the end.
    SkipLimit { skip: i64, limit: i64 },
}

impl Slice {
    /// The sliced value: arrays are sliced, anything else is kept whole.
    pub(super) fn apply(self, value: &Bson) -> Bson {
        match value {
            Bson::Array(items) => {
                let (start, end) = self.bounds(items.len());
                Bson::Array(items[start..end].to_vec())
            }
            other => other.clone(),
        }
    }

    /// The `[start, end)` range this slice keeps of an array of `len` items.
    fn bounds(self, len: usize) -> (usize, usize) {
        let len_i = i64::try_from(len).unwrap_or(i64::MAX);
        let clamp = |i: i64| usize::try_from(i.clamp(0, len_i)).unwrap_or(len);
        match self {
            Slice::Count(n) if n >= 0 => (0, clamp(n)),
            Slice::Count(n) => (clamp(len_i.saturating_add(n)), len),
            Slice::SkipLimit { skip, limit } => {
                let start = if skip >= 0 {
                    clamp(skip)
                } else {
                    clamp(len_i.saturating_add(skip))
                };
                let start_i = i64::try_from(start).unwrap_or(i64::MAX);
                (start, clamp(start_i.saturating_add(limit)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::bson;

    fn slice(s: Slice, v: Bson) -> Bson {
        s.apply(&v)
    }

    #[test]
    fn slice_count_takes_first_or_last() {
        let a = bson!([0, 1, 2, 3, 4]);
        assert_eq!(slice(Slice::Count(2), a.clone()), bson!([0, 1]));
        assert_eq!(slice(Slice::Count(-2), a.clone()), bson!([3, 4]));
        assert_eq!(slice(Slice::Count(0), a.clone()), bson!([]));
        assert_eq!(slice(Slice::Count(9), a.clone()), a.clone());
        assert_eq!(slice(Slice::Count(-9), a.clone()), a.clone());
        assert_eq!(slice(Slice::Count(i64::MIN), a.clone()), a);
    }

    #[test]
    fn slice_skip_limit_counts_negative_skip_from_the_end() {
        let a = bson!([0, 1, 2, 3, 4, 5, -5, -4, -3, -2, -1]);
        let sl = |skip, limit| slice(Slice::SkipLimit { skip, limit }, a.clone());
        assert_eq!(sl(2, 3), bson!([2, 3, 4]));
        assert_eq!(sl(-5, 4), bson!([-5, -4, -3, -2]));
        assert_eq!(sl(-5, 10), bson!([-5, -4, -3, -2, -1]));
        assert_eq!(sl(20, 2), bson!([]));
        assert_eq!(sl(-20, 2), bson!([0, 1]));
        assert_eq!(sl(1, i64::MAX), slice(Slice::Count(-10), a.clone()));
    }

    #[test]
    fn slice_keeps_non_arrays_whole() {
        assert_eq!(slice(Slice::Count(1), bson!({"c": 1})), bson!({"c": 1}));
        assert_eq!(slice(Slice::Count(1), bson!("abc")), bson!("abc"));
    }
}
