//! `authgate loadtest`: generate a load-test config with many credentials
//! and drive HTTP load at an authgate edge, reporting throughput, latency
//! percentiles and status counts ([`report`]).

pub mod credentials;
pub mod mix;
pub mod report;
