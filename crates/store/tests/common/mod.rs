//! The root package's PostgreSQL test support (a database of the test's
//! own, a cuttable TCP proxy), shared rather than copied.

#![allow(dead_code)]

#[path = "../../../../tests/common/pg.rs"]
mod pg;

pub use pg::*;
