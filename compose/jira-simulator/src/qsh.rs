//! Atlassian Connect's query string hash (qsh): the SHA-256 of a canonical form of the request,
//! which a Connect JWT carries so a token signed for one request cannot be replayed on another.
//!
//! Written from Atlassian's spec ("Understanding JWT for Connect apps"), not from our ingress, so the
//! two implementations check each other.

use sha2::{Digest, Sha256};

/// The query parameter a Connect JWT may travel in; it is never part of its own hash.
const JWT_PARAM: &str = "jwt";

/// `hex(sha256(canonical_request))` for a request to `path` (as the server sees it, including the
/// app's base path) with the raw query string `query` (no leading `?`, may be empty).
/// `app_base_path` is the path part of the app's (or the Jira site's) base URL, `""` when none.
pub fn connect_qsh(method: &str, path: &str, query: &str, app_base_path: &str) -> String {
    hex::encode(Sha256::digest(canonical_request(
        method,
        path,
        query,
        app_base_path,
    )))
}

/// `METHOD&canonical_path&canonical_query`.
pub fn canonical_request(method: &str, path: &str, query: &str, app_base_path: &str) -> String {
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        canonical_path(path, app_base_path),
        canonical_query(query)
    )
}

/// The path relative to the base path, `/` when empty, without a trailing `/`, `&` escaped.
pub fn canonical_path(path: &str, app_base_path: &str) -> String {
    let base = app_base_path.trim_end_matches('/');
    // Only a whole leading segment match is the base path: base `/app` does not prefix `/apps`.
    let relative = match path.strip_prefix(base) {
        Some(rest) if !base.is_empty() && (rest.is_empty() || rest.starts_with('/')) => rest,
        _ => path,
    };
    let relative = if relative.is_empty() { "/" } else { relative };
    let relative = match relative.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => relative,
    };
    relative.replace('&', "%26")
}

/// Parameters without `jwt`, sorted by encoded name; each name's encoded values sorted and
/// joined with `,`; `name=values` pairs joined with `&`.
pub fn canonical_query(query: &str) -> String {
    let mut params: Vec<(String, Vec<String>)> = Vec::new();
    // Decoding follows form rules (`+` is a space), as the servlet and Node parsers Atlassian's
    // libraries sit on do.
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if name == JWT_PARAM {
            continue;
        }
        let (name, value) = (percent_encode(&name), percent_encode(&value));
        match params.iter_mut().find(|(known, _)| *known == name) {
            Some((_, values)) => values.push(value),
            None => params.push((name, vec![value])),
        }
    }
    params.sort_by(|a, b| a.0.cmp(&b.0));
    params
        .into_iter()
        .map(|(name, mut values)| {
            values.sort();
            format!("{name}={}", values.join(","))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// RFC 3986 percent-encoding of everything but the unreserved set `A-Z a-z 0-9 - . _ ~`.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every expected hash below was computed outside this code, with
    // `printf '<canonical request>' | sha256sum` (or Python's hashlib for the longer ones).

    #[test]
    fn qsh_of_a_get_without_query_matches_sha256sum() {
        // printf 'GET&/rest/api/2/project&' | sha256sum
        assert_eq!(
            connect_qsh("get", "/rest/api/2/project", "", ""),
            "376b86be226be6ed221f7a5c1ff9bafdf495036773264e22822dbff68e8aeafa"
        );
    }

    #[test]
    fn atlassian_documented_example_with_repeated_unsorted_params_and_spaces() {
        // The example of Atlassian's JWT documentation:
        // GET http://localhost:2990/path/to/service?zee_last=param&repeated=parameter 1&first=param&repeated=parameter 2
        let query = "zee_last=param&repeated=parameter%201&first=param&repeated=parameter%202";
        assert_eq!(
            canonical_request("GET", "/path/to/service", query, ""),
            "GET&/path/to/service&first=param&repeated=parameter%201,parameter%202&zee_last=param"
        );
        assert_eq!(
            connect_qsh("GET", "/path/to/service", query, ""),
            "e52bb281606c3bd9ca16cfe96fe2df78f5d9ffa126f06befd750dfa10fa1a897"
        );
    }

    #[test]
    fn base_path_ampersand_jwt_param_and_reserved_characters() {
        let query = "b=2&a=x%2By&a=hello%20world&a=*&jwt=zzz&c=~t&e";
        assert_eq!(
            canonical_request("GET", "/app/foo&bar/", query, "/app/"),
            "GET&/foo%26bar&a=%2A,hello%20world,x%2By&b=2&c=~t&e="
        );
        assert_eq!(
            connect_qsh("GET", "/app/foo&bar/", query, "/app/"),
            "261e6af39b4e24f20dbc324d8d9e3097f07a818cf5facf03769340cc31619b54"
        );
    }

    #[test]
    fn lifecycle_post_relative_to_the_app_base_url() {
        // printf 'POST&/atlassian/lifecycle/installed&' | sha256sum
        let expected = "b367f4491506132418b9b3ed0bad9250430a5b0185ac27033fe2e906ae65b72f";
        assert_eq!(
            connect_qsh("POST", "/atlassian/lifecycle/installed", "", ""),
            expected
        );
        assert_eq!(
            connect_qsh("POST", "/app/atlassian/lifecycle/installed", "", "/app"),
            expected
        );
    }

    #[test]
    fn canonical_paths() {
        let cases = [
            ("", "", "/", "empty path is the root"),
            ("/", "", "/", "the root keeps its slash"),
            ("/foo/", "", "/foo", "a trailing slash goes"),
            ("/app", "/app", "/", "the base path itself is the root"),
            (
                "/app/",
                "/app",
                "/",
                "the base path with a slash is the root",
            ),
            ("/app/foo", "/app", "/foo", "the base path is removed"),
            (
                "/apps/foo",
                "/app",
                "/apps/foo",
                "only a whole segment is the base path",
            ),
            ("/a&b", "", "/a%26b", "ampersands are escaped"),
        ];
        for (path, base, expected, why) in cases {
            assert_eq!(canonical_path(path, base), expected, "{why}");
        }
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        let cases = [
            ("AZaz09-._~", "AZaz09-._~", "unreserved pass"),
            (" ", "%20", "space is %20, not +"),
            ("*", "%2A", "star is encoded"),
            ("+", "%2B", "plus is encoded"),
            ("é", "%C3%A9", "UTF-8 bytes, upper-case hex"),
        ];
        for (raw, expected, why) in cases {
            assert_eq!(percent_encode(raw), expected, "{why}");
        }
    }

    #[test]
    fn a_plus_in_the_raw_query_is_a_space() {
        assert_eq!(canonical_query("q=a+b"), "q=a%20b");
    }
}
