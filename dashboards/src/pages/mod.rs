//! The dashboards' pages.

pub(crate) mod overview;
