//! The checks `validate()` methods share: each refusal names the variable and says what it wants,
//! so a service refuses to boot with one clear line instead of failing later at a connection.

use std::{fmt::Display, time::Duration};

use url::Url;

use super::ConfigError;

/// At least one: a zero limit, pool or count would stall the service rather than fail it.
pub fn at_least_one<T: PartialOrd + From<u8> + Display>(
    name: &str,
    value: T,
) -> Result<(), ConfigError> {
    if value < T::from(1) {
        return Err(ConfigError::invalid(name, value, "must be at least 1"));
    }
    Ok(())
}

/// A zero duration would time out or expire everything at once. (Only zero is refused, so the
/// value shown is 0 whatever the variable's unit.)
pub fn not_zero(name: &str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        return Err(ConfigError::invalid(name, 0, "must be more than 0"));
    }
    Ok(())
}

/// A URL we call or send people to: http or https (the url crate gives those a host always).
pub fn http_url(name: &str, url: &Url) -> Result<(), ConfigError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::invalid(
            name,
            super::redact_url(url.as_str()),
            "must be an http or https URL",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_names_the_variable_and_what_it_wants() {
        let cases: [(&str, Result<(), ConfigError>, &str); 5] = [
            (
                "zero count",
                at_least_one("BATCH_MAX_ROWS", 0usize),
                "environment variable BATCH_MAX_ROWS has an invalid value \"0\": must be at least 1",
            ),
            (
                "negative count",
                at_least_one("KAFKA_RAW_PARTITIONS", -2i32),
                "environment variable KAFKA_RAW_PARTITIONS has an invalid value \"-2\": must be at least 1",
            ),
            (
                "zero duration",
                not_zero("OUTBOX_POLL_MS", Duration::ZERO),
                "environment variable OUTBOX_POLL_MS has an invalid value \"0\": must be more than 0",
            ),
            (
                "not http",
                http_url("CLICKHOUSE_URL", &"tcp://db:9000".parse().unwrap()),
                "environment variable CLICKHOUSE_URL has an invalid value \"tcp://db:9000\": must be an http or https URL",
            ),
            (
                "not http either",
                http_url("PUBLIC_BASE_URL", &"mailto:x@y.z".parse().unwrap()),
                "must be an http or https URL",
            ),
        ];
        for (case, result, expected) in cases {
            let message = result.expect_err(case).to_string();
            assert!(message.contains(expected), "{case}: {message}");
        }
    }

    #[test]
    fn sensible_values_pass() {
        at_least_one("KAFKA_RAW_PARTITIONS", 1i32).unwrap();
        not_zero("OUTBOX_POLL_MS", Duration::from_millis(1)).unwrap();
        http_url(
            "PUBLIC_BASE_URL",
            &"https://metafrazo.example.org/base".parse().unwrap(),
        )
        .unwrap();
    }
}
