//! Small readers for optional values in a Jira payload. Jira's bodies are loosely typed (an id is
//! `"10482"` in one event and `10482` in another) and any field may be missing, so every reader
//! answers `None` or an empty string instead of failing or panicking.

use serde_json::{Map, Value};

/// A JSON object, the shape of every body we normalize.
pub(super) type Object = Map<String, Value>;

/// The value at `path` (object keys only) below `object`, if every step is an object.
pub(super) fn at<'a>(object: &'a Object, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter().try_fold(object.get(*first)?, |value, key| {
        value.as_object()?.get(*key)
    })
}

/// The object at `path`, if there is one.
pub(super) fn object_at<'a>(object: &'a Object, path: &[&str]) -> Option<&'a Object> {
    at(object, path)?.as_object()
}

/// A scalar as text: ids and keys arrive as strings or as numbers. Empty strings, `null`,
/// booleans, arrays and objects give `None`.
pub(super) fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The text at `path`, or an empty string.
pub(super) fn text_at(object: &Object, path: &[&str]) -> String {
    text(at(object, path)).unwrap_or_default()
}

/// The first non-empty text among `paths`, or an empty string.
pub(super) fn first_text_at(object: &Object, paths: &[&[&str]]) -> String {
    paths
        .iter()
        .find_map(|path| text(at(object, path)))
        .unwrap_or_default()
}

/// The texts of the array at `path`, each element read at `element` (empty: the element
/// itself), sorted and without duplicates; elements without one are skipped. Labels are an
/// array of strings, components an array of objects named by `name`.
pub(super) fn texts_at(object: &Object, path: &[&str], element: &[&str]) -> Vec<String> {
    let Some(items) = at(object, path).and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut texts: Vec<String> = items
        .iter()
        .filter_map(|item| match element {
            [] => text(Some(item)),
            _ => text(at(item.as_object()?, element)),
        })
        .collect();
    texts.sort_unstable();
    texts.dedup();
    texts
}

/// Milliseconds since the epoch from a number (Connect) or a numeric string (Forge).
pub(super) fn epoch_ms(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(number) => number.as_i64().or_else(|| float_ms(number.as_f64()?)),
        Value::String(text) => {
            let text = text.trim();
            text.parse::<i64>()
                .ok()
                .or_else(|| float_ms(text.parse::<f64>().ok()?))
        }
        _ => None,
    }
}

/// Milliseconds since the epoch from one of Jira's date-times: RFC 3339 (`…000Z`, sprints) or
/// Jira's own offset without a colon (`…000+0100`, worklogs).
pub(super) fn iso_ms(value: Option<&Value>) -> Option<i64> {
    let Value::String(text) = value? else {
        return None;
    };
    let text = text.trim();
    chrono::DateTime::parse_from_rfc3339(text)
        .or_else(|_| chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|time| time.timestamp_millis())
}

/// A float that is a plausible millisecond count, truncated; `NaN`, infinities and values out of
/// `i64`'s range are not.
fn float_ms(ms: f64) -> Option<i64> {
    // i64::MAX as f64 rounds up to 2^63, which itself is out of range: hence `<`, not `<=`.
    (ms.is_finite() && ms >= i64::MIN as f64 && ms < i64::MAX as f64).then(|| ms.trunc() as i64)
}

/// A changelog value (`from`, `to`, `fromString`, `toString`) as stored: text as sent, numbers and
/// booleans spelled out, `null` or absent as empty, and anything structured as its JSON so that
/// nothing Jira said is lost.
pub(super) fn change_value(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::Bool(flag)) => flag.to_string(),
        Some(structured) => structured.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Object {
        match value {
            Value::Object(object) => object,
            other => panic!("test input must be an object, got {other}"),
        }
    }

    #[test]
    fn ids_read_the_same_from_strings_and_numbers() {
        let body = object(json!({"a": {"id": "10482"}, "b": {"id": 10482}}));
        assert_eq!(text_at(&body, &["a", "id"]), "10482");
        assert_eq!(text_at(&body, &["b", "id"]), "10482");
    }

    #[test]
    fn missing_or_mistyped_steps_read_as_empty() {
        let body = object(json!({"a": {"b": [1, 2]}, "c": null, "d": "", "e": true}));
        for path in [
            &["a", "b"][..],
            &["a", "b", "c"],
            &["a", "x"],
            &["c"],
            &["c", "x"],
            &["d"],
            &["e"],
            &["e", "x"],
            &[],
        ] {
            assert_eq!(text_at(&body, path), "", "path {path:?}");
        }
    }

    #[test]
    fn first_text_skips_empty_and_missing_candidates() {
        let body = object(json!({"atlassianId": "", "user": {"accountId": "abc"}}));
        assert_eq!(
            first_text_at(
                &body,
                &[&["atlassianId"], &["missing"], &["user", "accountId"]]
            ),
            "abc"
        );
        assert_eq!(first_text_at(&body, &[&["missing"]]), "");
    }

    #[test]
    fn epoch_ms_reads_numbers_and_numeric_strings_only() {
        let cases = [
            (json!(1763280764120_i64), Some(1763280764120)),
            (json!("1763280764120"), Some(1763280764120)),
            (json!(" 1763280764120 "), Some(1763280764120)),
            (json!(1763280764120.9), Some(1763280764120)),
            (json!("1.5e3"), Some(1500)),
            (json!(u64::MAX), None),
            (json!(1e300), None),
            (json!("NaN"), None),
            (json!("inf"), None),
            (json!("soon"), None),
            (json!(""), None),
            (json!(null), None),
            (json!(true), None),
            (json!([1]), None),
        ];
        for (value, expected) in cases {
            assert_eq!(epoch_ms(Some(&value)), expected, "timestamp {value}");
        }
        assert_eq!(epoch_ms(None), None);
    }

    #[test]
    fn change_values_keep_what_jira_said() {
        let cases = [
            (json!(null), ""),
            (json!("Done"), "Done"),
            (json!(""), ""),
            (json!(3), "3"),
            (json!(false), "false"),
            (json!(["a", "b"]), r#"["a","b"]"#),
        ];
        for (value, expected) in cases {
            assert_eq!(change_value(Some(&value)), expected, "value {value}");
        }
        assert_eq!(change_value(None), "");
    }
}
