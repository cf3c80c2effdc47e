use clap::CommandFactory;

use super::*;

/// What the case is, how it breaks a valid config, and what the refusal must say.
type Case = (&'static str, fn(&mut Config), &'static str);

fn defaults() -> Config {
    let mut config: Config =
        config::defaults(std::iter::empty()).expect("the declared defaults parse");
    config.resolve();
    config
}

#[test]
fn the_defaults_work_on_the_local_stack() {
    let config = defaults();
    config.validate().unwrap();
    assert_eq!(
        config.server.listen,
        Some("127.0.0.1:8081".parse().unwrap())
    );
    assert_eq!(config.server.admin_listen.to_string(), "127.0.0.1:9181");
    assert_eq!(config.oidc.providers.len(), 2, "both local providers");
    assert!(
        !config.accounts.cookie_secure,
        "the local stack is plain http"
    );
    assert_eq!(
        config
            .atlassian
            .api_base_override
            .as_ref()
            .map(url::Url::as_str),
        Some("http://127.0.0.1:8090/")
    );
    assert_eq!(
        config.mail.retry,
        service_runtime::retry::RetryPolicy::new(
            std::time::Duration::from_secs(5),
            std::time::Duration::from_secs(600)
        )
    );
}

#[test]
fn validate_refuses_what_could_only_fail_later() {
    let cases: [Case; 6] = [
        (
            "a real provider with the local client",
            |c| c.oidc.providers[0].issuer = "https://accounts.google.com".parse().unwrap(),
            "environment variable OIDC_GOOGLE_CLIENT_ID has an invalid value \"metafrazo-local\": \
             set it (and OIDC_GOOGLE_CLIENT_SECRET) to the client registered at https://accounts.google.com/",
        ),
        (
            "a real provider with the local secret",
            |c| {
                let provider = &mut c.oidc.providers[1];
                provider.issuer = "https://login.microsoftonline.com/common/v2.0"
                    .parse()
                    .unwrap();
                provider.client_id = "registered".to_owned();
            },
            "OIDC_MICROSOFT_CLIENT_SECRET has an invalid value \"<hidden>\"",
        ),
        (
            "a public URL that is not http",
            |c| c.atlassian.public_base_url = "ftp://example.org".parse().unwrap(),
            "PUBLIC_BASE_URL",
        ),
        (
            "sessions that end at once",
            |c| c.accounts.session_ttl = std::time::Duration::ZERO,
            "SESSION_TTL_HOURS has an invalid value \"0\": must be more than 0",
        ),
        (
            "a retry that shrinks",
            |c| c.mail.retry.max = std::time::Duration::from_millis(1),
            "OUTBOX_RETRY_MAX_MS has an invalid value \"1\": must be at least OUTBOX_RETRY_BASE_MS",
        ),
        (
            "no failed password allowed",
            |c| c.accounts.sign_in_max_failures = 0,
            "SIGN_IN_MAX_FAILURES",
        ),
    ];
    for (case, break_it, expected) in cases {
        let mut config = defaults();
        break_it(&mut config);
        let message = config.validate().expect_err(case).to_string();
        assert!(message.contains(expected), "{case}: {message}");
    }
}

#[test]
fn off_hides_a_provider_and_site_calls_each_installations_own_site() {
    let mut config: Config = config::defaults([
        "--oidc-google-issuer",
        "off",
        "--atlassian-api-base-url",
        "site",
        "--public-base-url",
        "https://metafrazo.example.org",
    ])
    .unwrap();
    config.resolve();
    let kinds: Vec<_> = config
        .oidc
        .providers
        .iter()
        .map(|p| p.kind.name())
        .collect();
    assert_eq!(kinds, ["microsoft"]);
    assert_eq!(config.atlassian.api_base_override, None);
    assert!(
        config.accounts.cookie_secure,
        "https unless COOKIE_SECURE says"
    );
}

#[test]
fn the_readme_documents_every_variable_with_its_default() {
    test_kit::readme::assert_documents(&Config::command());
}
