//! Store errors: what went wrong in terms the use cases can act on, with the driver error kept for
//! the log.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write; the value names what already exists.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The row is no longer in a state that allows this (a link already used or expired, …).
    #[error("{0}")]
    Stale(&'static str),
    #[error(
        "the database schema is at version {db}, newer than this binary's {binary}: upgrade Testvault before starting it on this database"
    )]
    SchemaTooNew { db: i64, binary: i64 },
    #[error(
        "this database was made by a pre-release build whose schema 7 differs (no tests.identity_hash); \
         export what you need and start from an empty database"
    )]
    PrereleaseSchema,
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        source: sqlx::Error,
    },
    /// A rule the database enforces refused the change (the last owner, a role still in use).
    #[error("{0}")]
    Refused(&'static str),
    #[error("a stored value is invalid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl StoreError {
    /// Turns a unique-constraint violation into `Conflict(what)`, leaving other errors as they are.
    pub(crate) fn unique(err: sqlx::Error, what: &'static str) -> StoreError {
        match &err {
            sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation => {
                StoreError::Conflict(what)
            }
            _ => StoreError::Db(err),
        }
    }
}
