//! Atlassian's OAuth 2.0 (3LO) endpoints: the consent page at `/authorize` (auth.atlassian.com),
//! the token endpoint, and the platform API a token opens (api.atlassian.com's
//! `/oauth/token/accessible-resources` and `/me`). Atlassian serves them from two hosts; the
//! simulator serves everything from one address.

pub(super) mod authorize;
mod consent_page;
pub(super) mod platform_api;
pub(super) mod token;

/// The fields of a query string or a form body, in order, repeated names kept: the consent form
/// sends one `cloud_id` per checked site.
struct FormFields(Vec<(String, String)>);

impl FormFields {
    fn parse(encoded: &[u8]) -> Self {
        Self(
            url::form_urlencoded::parse(encoded)
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`, or `""` when it is absent.
    fn first(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(field, _)| field == name)
            .map_or("", |(_, value)| value.as_str())
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }
}
