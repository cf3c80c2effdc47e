//! Where a request to the app's public URL lands locally. In production one public URL fronts the
//! ingress and onboarding behind a path router; `Target` plays that router.

use url::Url;

/// Paths the ingress serves; every other app path goes to onboarding.
const INGRESS_PREFIXES: [&str; 3] = ["/atlassian/events", "/forge/events", "/webhooks/"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub onboarding: Url,
    pub ingress: Url,
}

impl Target {
    pub fn new(onboarding: Url, ingress: Url) -> Self {
        Self {
            onboarding,
            ingress,
        }
    }

    /// The local URL for `path_and_query`, a path relative to the app's base URL with an optional
    /// `?query`.
    pub fn url_for(&self, path_and_query: &str) -> Url {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        let service = if routes_to_ingress(path) {
            &self.ingress
        } else {
            &self.onboarding
        };
        join(service, path, query)
    }
}

fn routes_to_ingress(path: &str) -> bool {
    INGRESS_PREFIXES
        .iter()
        .any(|prefix| match prefix.strip_suffix('/') {
            // A prefix ending in `/` is a folder: only paths inside it match.
            Some(_) => path.starts_with(prefix),
            None => path == *prefix || path.starts_with(&format!("{prefix}/")),
        })
}

/// `base` with `path` appended to its own path (a base like `http://h/prefix` keeps `/prefix`).
pub(crate) fn join(base: &Url, path: &str, query: Option<&str>) -> Url {
    let mut url = base.clone();
    let separator = if path.starts_with('/') { "" } else { "/" };
    url.set_path(&format!(
        "{}{separator}{path}",
        base.path().trim_end_matches('/')
    ));
    url.set_query(query.filter(|query| !query.is_empty()));
    url.set_fragment(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target::new(
            Url::parse("http://127.0.0.1:8081").expect("url"),
            Url::parse("http://127.0.0.1:8080/edge/").expect("url"),
        )
    }

    #[test]
    fn event_paths_go_to_the_ingress_and_the_rest_to_onboarding() {
        let cases = [
            (
                "/atlassian/events",
                "http://127.0.0.1:8080/edge/atlassian/events",
            ),
            (
                "/atlassian/events?a=1",
                "http://127.0.0.1:8080/edge/atlassian/events?a=1",
            ),
            ("/forge/events", "http://127.0.0.1:8080/edge/forge/events"),
            (
                "/webhooks/conn-1",
                "http://127.0.0.1:8080/edge/webhooks/conn-1",
            ),
            (
                "/atlassian/lifecycle/installed",
                "http://127.0.0.1:8081/atlassian/lifecycle/installed",
            ),
            (
                "/atlassian/eventsx",
                "http://127.0.0.1:8081/atlassian/eventsx",
            ),
            (
                "/atlassian-connect.json",
                "http://127.0.0.1:8081/atlassian-connect.json",
            ),
        ];
        for (path, expected) in cases {
            assert_eq!(target().url_for(path).as_str(), expected, "{path}");
        }
    }
}
