//! An organization's sign-in policy: whether its members must have signed in with an identity
//! provider (single sign-on), and at which email domains their addresses must be.

/// How a session was started: `password`, or the provider's name.
pub const PASSWORD: &str = "password";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignInPolicy {
    pub require_sso: bool,
    /// Lower-cased domains; empty admits every address.
    pub allowed_domains: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyRefusal {
    #[error("the organization requires single sign-on")]
    SsoRequired,
    #[error("the organization does not admit this address's domain")]
    DomainNotAllowed,
}

impl SignInPolicy {
    /// Whether a member signed in with `method` as `email` may use the organization now.
    pub fn admits(&self, method: &str, email: &str) -> Result<(), PolicyRefusal> {
        if !self.admits_address(email) {
            return Err(PolicyRefusal::DomainNotAllowed);
        }
        if self.require_sso && method == PASSWORD {
            return Err(PolicyRefusal::SsoRequired);
        }
        Ok(())
    }

    /// Whether an address (a member's, an invitee's) is at an allowed domain.
    pub fn admits_address(&self, email: &str) -> bool {
        if self.allowed_domains.is_empty() {
            return true;
        }
        let domain = email
            .rsplit_once('@')
            .map(|(_, domain)| domain.to_lowercase());
        domain.is_some_and(|domain| self.allowed_domains.contains(&domain))
    }

    /// The domains an owner typed, separated by commas or spaces: `example.com, example.org`.
    pub fn parse_domains(text: &str) -> Result<Vec<String>, String> {
        let mut domains: Vec<String> = Vec::new();
        for domain in text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|part| !part.is_empty())
        {
            let domain = domain.trim_start_matches('@').to_lowercase();
            let plausible = domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && domain.len() <= 253
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if !plausible {
                return Err(domain);
            }
            if !domains.contains(&domain) {
                domains.push(domain);
            }
        }
        Ok(domains)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sso_is_required_only_of_password_sessions() {
        let policy = SignInPolicy {
            require_sso: true,
            allowed_domains: Vec::new(),
        };
        assert_eq!(
            policy.admits(PASSWORD, "a@example.test"),
            Err(PolicyRefusal::SsoRequired)
        );
        assert_eq!(policy.admits("google", "a@example.test"), Ok(()));
        assert_eq!(SignInPolicy::default().admits(PASSWORD, "a@x.test"), Ok(()));
    }

    #[test]
    fn only_listed_domains_are_admitted() {
        let policy = SignInPolicy {
            require_sso: false,
            allowed_domains: vec!["example.test".to_owned()],
        };
        assert!(policy.admits_address("a@Example.TEST"));
        for other in [
            "a@other.test",
            "a@sub.example.test",
            "a@example.test.evil",
            "nobody",
        ] {
            assert_eq!(
                policy.admits("google", other),
                Err(PolicyRefusal::DomainNotAllowed),
                "{other}"
            );
        }
    }

    #[test]
    fn typed_domains_are_parsed_and_checked() {
        assert_eq!(
            SignInPolicy::parse_domains(" Example.com, @example.org example.com ").unwrap(),
            vec!["example.com", "example.org"]
        );
        assert!(SignInPolicy::parse_domains("").unwrap().is_empty());
        for bad in [
            "example",
            "a@b.com",
            "exa mple.com,x",
            ".com",
            "ex_ample.com",
        ] {
            assert!(SignInPolicy::parse_domains(bad).is_err(), "{bad}");
        }
    }
}
