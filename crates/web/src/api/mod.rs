//! The JSON API. Versioned under `/api/v1`; every route needs a session (API tokens arrive with
//! the access-control issue).

pub mod v1;
