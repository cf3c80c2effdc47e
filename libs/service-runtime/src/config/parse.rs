//! Value parsers for what clap cannot parse on its own: durations kept in their variables' units
//! (`_MS`, `_SECS`, `_MINUTES`, `_HOURS`) and secrets, which never leave a `SecretString`.

use std::{convert::Infallible, num::ParseIntError, str::ParseBoolError, time::Duration};

use secrecy::SecretString;

pub fn millis(value: &str) -> Result<Duration, ParseIntError> {
    value.parse().map(Duration::from_millis)
}

pub fn secs(value: &str) -> Result<Duration, ParseIntError> {
    value.parse().map(Duration::from_secs)
}

pub fn minutes(value: &str) -> Result<Duration, ParseIntError> {
    value
        .parse::<u64>()
        .map(|minutes| Duration::from_secs(60 * minutes))
}

pub fn hours(value: &str) -> Result<Duration, ParseIntError> {
    value
        .parse::<u64>()
        .map(|hours| Duration::from_secs(3600 * hours))
}

/// `true` or `false` only, as Rust reads them (clap's own bool parser words its refusal
/// differently from the error the services always gave).
pub fn boolean(value: &str) -> Result<bool, ParseBoolError> {
    value.parse()
}

pub fn secret(value: &str) -> Result<SecretString, Infallible> {
    Ok(SecretString::from(value))
}

/// `ATLASSIAN_API_BASE_URL`: `site` (None: each installation's own site, as production calls
/// Jira) or the one URL every Jira call goes to (the local simulator serves every site).
pub fn url_or_site(value: &str) -> Result<Option<url::Url>, url::ParseError> {
    match value {
        "site" => Ok(None),
        url => url::Url::parse(url).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_keep_their_variables_units() {
        assert_eq!(millis("1500").unwrap(), Duration::from_millis(1500));
        assert_eq!(secs("30").unwrap(), Duration::from_secs(30));
        assert_eq!(minutes("240").unwrap(), Duration::from_secs(240 * 60));
        assert_eq!(hours("72").unwrap(), Duration::from_secs(72 * 3600));
        assert!(millis("1.5").is_err(), "whole units only");
        assert!(secs("-1").is_err(), "no negative durations");
    }
}
