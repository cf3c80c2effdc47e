//! Why an insert failed, in the two kinds the sink treats differently: an outage, which passes
//! (retry the same rows), and a refusal of the data itself, which does not (split the rows until
//! the refused ones stand alone). Told apart by ClickHouse's error code: the codes below mean the
//! server is busy, starting, short of memory or unreachable; any other error ClickHouse answers
//! with is about what we sent.

/// ClickHouse error codes that say "try again later", not "this data is wrong".
const PASSING: &[u32] = &[
    159, // TIMEOUT_EXCEEDED
    164, // READONLY
    202, // TOO_MANY_SIMULTANEOUS_QUERIES
    203, // NO_FREE_CONNECTION
    209, // SOCKET_TIMEOUT
    210, // NETWORK_ERROR
    241, // MEMORY_LIMIT_EXCEEDED
    242, // TABLE_IS_READ_ONLY
    252, // TOO_MANY_PARTS: merges are behind (but see "partitions for single INSERT block")
    285, // TOO_FEW_LIVE_REPLICAS
    319, // UNKNOWN_STATUS_OF_INSERT
    425, // SYSTEM_ERROR
    439, // CANNOT_SCHEDULE_TASK
];

#[derive(Debug, thiserror::Error)]
pub(crate) enum InsertError {
    /// ClickHouse is away or says to come back: retry the same rows.
    #[error("ClickHouse is unavailable: {0}")]
    Outage(clickhouse::error::Error),
    /// ClickHouse answered that it will not take these rows, with its reason.
    #[error("ClickHouse refused the rows: {0}")]
    Refused(String),
}

impl InsertError {
    pub(crate) fn classify(err: clickhouse::error::Error) -> Self {
        match &err {
            // Shares TOO_MANY_PARTS' code, but smaller inserts are the cure, not waiting.
            clickhouse::error::Error::BadResponse(reason)
                if reason.contains("partitions for single INSERT block") =>
            {
                Self::Refused(reason.clone())
            }
            clickhouse::error::Error::BadResponse(reason) => match error_code(reason) {
                Some(code) if !PASSING.contains(&code) => Self::Refused(reason.clone()),
                // No code: a proxy's or a starting server's answer, not a verdict on the data.
                _ => Self::Outage(err),
            },
            _ => Self::Outage(err),
        }
    }
}

/// The code in ClickHouse's error text: `Code: 395, e.displayText() = …` (18.16) or
/// `Code: 252. DB::Exception: …` (current releases).
fn error_code(reason: &str) -> Option<u32> {
    let after = reason.split_once("Code:")?.1.trim_start();
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use clickhouse::error::Error;

    use super::*;

    fn refused(err: Error) -> bool {
        matches!(InsertError::classify(err), InsertError::Refused(_))
    }

    #[test]
    fn clickhouse_refusing_the_data_is_told_from_clickhouse_being_away() {
        let cases = [
            (
                "Code: 395, e.displayText() = DB::Exception: Value passed to 'throwIf' function is non zero",
                true,
                "a row a check refuses (18.16's wording)",
            ),
            (
                "Code: 252. DB::Exception: Too many partitions for single INSERT block (more than 100).",
                true,
                "too many partitions in one insert: smaller inserts pass",
            ),
            (
                "Code: 252. DB::Exception: Too many parts (300). Merges are processing significantly slower than inserts.",
                false,
                "too many parts: merges catch up",
            ),
            (
                "Code: 27. DB::Exception: Cannot parse input: expected '\\t' before: 'x'",
                true,
                "unparseable data",
            ),
            (
                "Code: 241. DB::Exception: Memory limit (total) exceeded",
                false,
                "memory: smaller batches or later",
            ),
            ("502 Bad Gateway", false, "a proxy's answer without a code"),
        ];
        for (text, want, case) in cases {
            assert_eq!(refused(Error::BadResponse(text.into())), want, "{case}");
        }
        assert!(!refused(Error::TimedOut), "a timeout");
        assert!(
            !refused(Error::Network("connection refused".into())),
            "no connection"
        );
    }
}
