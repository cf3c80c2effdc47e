//! A Jira site as the platform API lists it to a token: its cloud id and base URL.

use url::Url;

/// Where a granted site the simulator does not host says it lives.
const UNHOSTED_SITE_URL: &str = "https://other-site.atlassian.net";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Site {
    pub(crate) cloud_id: String,
    /// `https://<name>.atlassian.net`.
    pub(crate) url: String,
}

impl Site {
    /// A site the member may hold that no installation of the app is on.
    pub(crate) fn unhosted(cloud_id: &str) -> Self {
        Self {
            cloud_id: cloud_id.to_owned(),
            url: UNHOSTED_SITE_URL.to_owned(),
        }
    }

    /// The short name Atlassian shows for the site: the first label of its host.
    pub(crate) fn name(&self) -> String {
        Url::parse(&self.url)
            .ok()
            .and_then(|url| {
                url.host_str()
                    .and_then(|host| host.split('.').next())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| self.url.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sites_name_is_the_first_label_of_its_host() {
        let site = Site {
            cloud_id: "c".into(),
            url: "https://acme-eng.atlassian.net".into(),
        };
        assert_eq!(site.name(), "acme-eng");
        assert_eq!(Site::unhosted("c").name(), "other-site");
    }
}
