//! Engine errors.
//!
//! Every error the engine can return is one variant of [`Error`]. Each variant
//! maps to a MongoDB error code name and number ([`Error::code_name`],
//! [`Error::code`]) so that the router can turn it into the API's
//! `{"error", "error_code"}` shape in one place. Messages name the offending
//! field, operator or value: a user should be able to fix the request from the
//! message alone.

use std::fmt;

/// Result alias used throughout the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An engine error.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum Error {
    /// A request is malformed: wrong operand type, bad option, invalid path.
    #[error("{0}")]
    BadValue(String),
    /// A query or update operator that does not exist.
    #[error("unknown operator: {0}")]
    UnknownOperator(String),
    /// A filter or update could not be parsed.
    #[error("{0}")]
    FailedToParse(String),
    /// An operator was applied to a value of the wrong type (`$inc` on a string…).
    #[error("{0}")]
    TypeMismatch(String),
    /// An update would modify `_id` (or another immutable field).
    #[error("{0}")]
    ImmutableField(String),
    /// Two update operators touch the same or overlapping paths.
    #[error("{0}")]
    ConflictingUpdateOperators(String),
    /// An update path cannot be created or traversed (`a.b` where `a` is a number).
    #[error("{0}")]
    PathNotViable(String),
    /// A unique index already holds this key.
    #[error("E11000 duplicate key error collection: {namespace} index: {index} dup key: {key}")]
    DuplicateKey {
        /// `db.collection` of the insert.
        namespace: String,
        /// Name of the index whose uniqueness would be violated.
        index: String,
        /// The offending key, rendered like MongoDB renders it (`{ _id: 1 }`).
        key: String,
    },
    /// A document breaks a storage rule (size, nesting, field names, `_id` type).
    #[error("{0}")]
    InvalidDocument(String),
    /// A database or collection name is not allowed.
    #[error("invalid namespace: {0}")]
    InvalidNamespace(String),
    /// The target of a catalog operation does not exist.
    #[error("namespace not found: {0}")]
    NamespaceNotFound(String),
    /// The target of a create/rename already exists.
    #[error("namespace already exists: {0}")]
    NamespaceExists(String),
    /// The requested index does not exist.
    #[error("index not found: {0}")]
    IndexNotFound(String),
    /// An option or feature the engine does not support (yet); never silent.
    #[error("not supported: {0}")]
    NotSupported(String),
    /// A regular expression that cannot be compiled.
    #[error("invalid regular expression: {0}")]
    BadRegex(String),
    /// The request was routed with a placement version other than the one
    /// this shard holds for the namespace; the router refreshes and retries.
    #[error("stale routing for {ns}: routed with version {sent}, shard has {have}")]
    StaleConfig {
        ns: String,
        sent: crate::sharding::ShardVersion,
        have: crate::sharding::ShardVersion,
    },
    /// The storage layer failed (I/O, corruption). Not the user's fault.
    #[error("storage error: {0}")]
    Storage(String),
    /// A value could not be encoded or decoded (corrupt record, version skew).
    #[error("encoding error: {0}")]
    Encoding(String),
}

impl Error {
    /// MongoDB's name for this kind of error (`"DuplicateKey"`, `"BadValue"` …).
    pub fn code_name(&self) -> &'static str {
        match self {
            Error::BadValue(_) => "BadValue",
            Error::UnknownOperator(_) => "BadValue",
            Error::FailedToParse(_) => "FailedToParse",
            Error::TypeMismatch(_) => "TypeMismatch",
            Error::ImmutableField(_) => "ImmutableField",
            Error::ConflictingUpdateOperators(_) => "ConflictingUpdateOperators",
            Error::PathNotViable(_) => "PathNotViable",
            Error::DuplicateKey { .. } => "DuplicateKey",
            Error::InvalidDocument(_) => "BadValue",
            Error::InvalidNamespace(_) => "InvalidNamespace",
            Error::NamespaceNotFound(_) => "NamespaceNotFound",
            Error::NamespaceExists(_) => "NamespaceExists",
            Error::IndexNotFound(_) => "IndexNotFound",
            Error::NotSupported(_) => "NotImplemented",
            Error::BadRegex(_) => "BadValue",
            Error::StaleConfig { .. } => "StaleConfig",
            Error::Storage(_) => "InternalError",
            Error::Encoding(_) => "InternalError",
        }
    }

    /// MongoDB's numeric error code for this kind of error.
    pub fn code(&self) -> i32 {
        match self {
            Error::BadValue(_) | Error::UnknownOperator(_) | Error::BadRegex(_) => 2,
            Error::InvalidDocument(_) => 2,
            Error::FailedToParse(_) => 9,
            Error::TypeMismatch(_) => 14,
            Error::ImmutableField(_) => 66,
            Error::ConflictingUpdateOperators(_) => 40,
            Error::PathNotViable(_) => 28,
            Error::DuplicateKey { .. } => 11000,
            Error::InvalidNamespace(_) => 73,
            Error::NamespaceNotFound(_) => 26,
            Error::NamespaceExists(_) => 48,
            Error::IndexNotFound(_) => 27,
            Error::NotSupported(_) => 238,
            Error::StaleConfig { .. } => 13388,
            Error::Storage(_) | Error::Encoding(_) => 1,
        }
    }

    /// True when the error is caused by the request (a 4xx), false when it is
    /// the server's fault (a 5xx).
    pub fn is_user_error(&self) -> bool {
        !matches!(self, Error::Storage(_) | Error::Encoding(_))
    }

    /// Shorthand for [`Error::BadValue`] with a formatted message.
    pub fn bad_value(msg: impl fmt::Display) -> Self {
        Error::BadValue(msg.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Storage(e.to_string())
    }
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        Error::Storage(e.to_string())
    }
}

impl From<rmp_serde::encode::Error> for Error {
    fn from(e: rmp_serde::encode::Error) -> Self {
        Error::Encoding(e.to_string())
    }
}

impl From<rmp_serde::decode::Error> for Error {
    fn from(e: rmp_serde::decode::Error) -> Self {
        Error::Encoding(e.to_string())
    }
}

impl From<bson::error::Error> for Error {
    fn from(e: bson::error::Error) -> Self {
        Error::Encoding(e.to_string())
    }
}
