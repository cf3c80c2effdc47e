//! Every analytical query, as a typed function the dashboards call with a [`Scope`].

mod scope;
pub mod weekly_rates;

pub use scope::{Filters, QueryError, Scope};
pub use weekly_rates::{Week, WeeklyRates, weekly_rates};
