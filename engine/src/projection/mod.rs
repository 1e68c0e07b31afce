//! MongoDB find projections (in progress): field path rules shared with sort.

pub mod path;
