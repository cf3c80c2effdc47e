//! Reading typed configuration from environment variables, each with a default that works on
//! the local stack, and a clear error naming the variable when a value does not parse.

use std::{fmt::Display, str::FromStr};

use secrecy::SecretString;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} has an invalid value {value:?}: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("environment variable {name} is not valid unicode")]
    NotUnicode { name: &'static str },
}

/// The value of `name` parsed as `T`, or `default` when it is unset or empty.
pub fn env_or<T>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    match raw(name)? {
        None => Ok(default),
        Some(value) => value.parse().map_err(|err: T::Err| ConfigError::Invalid {
            name,
            reason: err.to_string(),
            value,
        }),
    }
}

/// Like [`env_or`] for secrets: the value never appears in an error or a log line.
pub fn env_secret_or(name: &'static str, default: &str) -> Result<SecretString, ConfigError> {
    Ok(SecretString::from(
        raw(name)?.unwrap_or_else(|| default.to_owned()),
    ))
}

fn raw(name: &'static str) -> Result<Option<String>, ConfigError> {
    match std::env::var(name) {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::NotUnicode { name }),
    }
}

/// A URL with its password replaced, fit for a log line.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) => "<unparseable url>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_url_keeps_everything_but_the_password() {
        assert_eq!(
            redact_url("postgres://user:hunter2@db:5432/app"),
            "postgres://user:***@db:5432/app"
        );
        assert_eq!(redact_url("http://host:8123"), "http://host:8123/");
        assert_eq!(redact_url("::nonsense"), "<unparseable url>");
    }

    #[test]
    fn unset_variable_gives_the_default() {
        // A name no harness sets: edition 2024 makes set_var unsafe, and we forbid unsafe code.
        assert_eq!(env_or("SERVICE_KIT_TEST_UNSET_PORT", 7u16).unwrap(), 7);
    }
}
