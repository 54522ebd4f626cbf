//! One file per rule kind. Each says what it checks, why, and shows an example; each turns one
//! rule and one prepared call into findings, in time order.

pub(crate) mod event;
pub(crate) mod metric;
pub(crate) mod must;
pub(crate) mod must_not;
pub(crate) mod order;
pub(crate) mod personal_data;
pub(crate) mod tone;
