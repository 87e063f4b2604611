//! Who may pass: the route table ([`router`]) and the decision for a
//! verified identity on a matched route ([`decide`]).

pub mod decide;
pub mod router;
