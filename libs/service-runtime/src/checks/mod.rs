//! Readiness checks for the real dependencies our services use, each a cheap round trip.

mod clickhouse;
mod kafka;
mod postgres;
mod smtp;

pub use clickhouse::ClickHouseCheck;
pub use kafka::KafkaCheck;
pub use postgres::PostgresCheck;
pub use smtp::SmtpCheck;
