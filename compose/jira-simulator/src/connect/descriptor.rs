//! The app descriptor (`atlassian-connect.json`): the app's key, its public base URL, and where
//! its lifecycle callbacks and webhooks go. Paths are kept relative to the base URL, as Connect
//! declares them.

use serde::Deserialize;
use url::Url;

use crate::{
    error::{Result, SimulatorError},
    target::Target,
};

pub const DEFAULT_WEBHOOK_PATH: &str = "/atlassian/events";
const DEFAULT_UNINSTALLED_PATH: &str = "/atlassian/lifecycle/uninstalled";

#[derive(Debug, Clone)]
pub(crate) struct AppDescriptor {
    pub(crate) key: String,
    /// The base URL exactly as the descriptor writes it: install tokens carry it as `aud`, and a
    /// re-serialized `Url` could differ by a trailing slash.
    pub(crate) base_url_as_declared: String,
    pub(crate) base_url: Url,
    pub(crate) installed_path: String,
    pub(crate) uninstalled_path: String,
    pub(crate) webhook_path: String,
}

impl AppDescriptor {
    /// The path part of the base URL, without a trailing slash: the prefix the qsh drops.
    pub(crate) fn base_path(&self) -> &str {
        self.base_url.path().trim_end_matches('/')
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    key: Option<String>,
    base_url: Option<String>,
    #[serde(default)]
    lifecycle: Lifecycle,
    #[serde(default)]
    modules: Modules,
}

#[derive(Deserialize, Default)]
struct Lifecycle {
    installed: Option<String>,
    uninstalled: Option<String>,
}

#[derive(Deserialize, Default)]
struct Modules {
    #[serde(default)]
    webhooks: Vec<Webhook>,
}

#[derive(Deserialize)]
struct Webhook {
    url: String,
}

pub(crate) async fn fetch(http: &reqwest::Client, target: &Target) -> Result<AppDescriptor> {
    let url = target.url_for("/atlassian-connect.json");
    let http_err = |source| SimulatorError::Http {
        doing: "reading the app descriptor",
        url: url.to_string(),
        source,
    };
    let response = http.get(url.clone()).send().await.map_err(http_err)?;
    let unusable = |reason: String| SimulatorError::Descriptor {
        url: url.to_string(),
        reason,
    };
    if !response.status().is_success() {
        return Err(unusable(format!("HTTP {}", response.status())));
    }
    let raw: Raw = response
        .json()
        .await
        .map_err(|err| unusable(format!("not a descriptor: {err}")))?;
    let key = raw.key.ok_or_else(|| unusable("no `key`".into()))?;
    let declared = raw
        .base_url
        .ok_or_else(|| unusable("no `baseUrl`".into()))?;
    let base_url =
        Url::parse(&declared).map_err(|err| unusable(format!("`baseUrl` {declared:?}: {err}")))?;
    let installed = raw
        .lifecycle
        .installed
        .ok_or_else(|| unusable("no `lifecycle.installed`".into()))?;
    let relative = |declared: &str| relative_to(&base_url, declared).map_err(&unusable);
    Ok(AppDescriptor {
        installed_path: relative(&installed)?,
        uninstalled_path: relative(
            raw.lifecycle
                .uninstalled
                .as_deref()
                .unwrap_or(DEFAULT_UNINSTALLED_PATH),
        )?,
        webhook_path: relative(
            raw.modules
                .webhooks
                .first()
                .map_or(DEFAULT_WEBHOOK_PATH, |hook| hook.url.as_str()),
        )?,
        key,
        base_url_as_declared: declared,
        base_url,
    })
}

/// Connect URLs are relative to the base URL; an absolute one must sit under it.
fn relative_to(base: &Url, declared: &str) -> std::result::Result<String, String> {
    if declared.starts_with('/') {
        return Ok(declared.to_owned());
    }
    let absolute = Url::parse(declared)
        .map_err(|err| format!("{declared:?} is neither a path nor a URL: {err}"))?;
    let prefix = base.as_str().trim_end_matches('/');
    absolute
        .as_str()
        .strip_prefix(prefix)
        .filter(|rest| rest.starts_with('/'))
        .map(str::to_owned)
        .ok_or_else(|| format!("{declared:?} is not under the base URL {base}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_urls_become_paths_relative_to_the_base_url() {
        let base = Url::parse("https://app.example/jira/").expect("url");
        assert_eq!(
            relative_to(&base, "/installed").as_deref(),
            Ok("/installed")
        );
        assert_eq!(
            relative_to(&base, "https://app.example/jira/events?x=1").as_deref(),
            Ok("/events?x=1")
        );
        assert!(relative_to(&base, "https://elsewhere.example/events").is_err());
    }
}
