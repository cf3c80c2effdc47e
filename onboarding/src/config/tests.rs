use clap::CommandFactory;

use super::*;

/// What the case is, how it breaks a valid config, and what the refusal must say.
type Case = (&'static str, fn(&mut Config), &'static str);

/// The declared defaults in local mode, as the local stack runs them.
fn defaults() -> Config {
    let mut config: Config =
        config::defaults(["--deployment", "local"]).expect("the declared defaults parse");
    config.resolve();
    config
}

/// Local defaults with every development fallback replaced, in production mode.
fn production() -> Config {
    let mut config = defaults();
    config.server.deployment = config::Deployment::Production;
    config.cipher =
        SecretCipher::parse_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
    config.atlassian.api_base_override = None;
    config.atlassian.forge.jwks_url =
        "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json"
            .parse()
            .unwrap();
    config.atlassian.install_keys_url = "https://connect-install-keys.atlassian.com"
        .parse()
        .unwrap();
    // As the Docker Compose file has it until an OAuth app is registered.
    config.atlassian_oauth.auth_url = None;
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
    let cases: [Case; 7] = [
        (
            "Atlassian's authorization server with the simulator's client",
            |c| c.atlassian_oauth.auth_url = Some("https://auth.atlassian.com".parse().unwrap()),
            "environment variable ATLASSIAN_OAUTH_CLIENT_ID has an invalid value \"metafrazo-local\"",
        ),
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
fn outside_local_mode_each_development_fallback_is_refused_naming_its_variable() {
    let unset: Config = config::defaults(std::iter::empty()).unwrap();
    assert_eq!(
        unset.server.deployment,
        config::Deployment::Production,
        "production unless DEPLOYMENT says local"
    );
    production().validate().expect("no fallback left");
    let cases: [Case; 5] = [
        (
            "the simulator's authorization server",
            |c| c.atlassian_oauth.auth_url = Some("http://127.0.0.1:8090".parse().unwrap()),
            "environment variable ATLASSIAN_OAUTH_AUTH_URL is http://127.0.0.1:8090/, not https",
        ),
        (
            "the development SECRETS_KEY (what an unset or empty one falls back to)",
            |c| c.cipher = SecretCipher::parse_key(DEVELOPMENT_KEY).unwrap(),
            "environment variable SECRETS_KEY is unset, empty or the development key committed \
             in the repository, a development fallback only DEPLOYMENT=local allows",
        ),
        (
            "the simulator's Jira API",
            |c| c.atlassian.api_base_override = Some("http://127.0.0.1:8090".parse().unwrap()),
            "environment variable ATLASSIAN_API_BASE_URL is http://127.0.0.1:8090/, not https",
        ),
        (
            "the simulator's Forge JWKS",
            |c| {
                c.atlassian.forge.jwks_url =
                    atlassian_auth::forge_fit::LOCAL_JWKS_URL.parse().unwrap()
            },
            "environment variable FORGE_JWKS_URL is http://127.0.0.1:8090/forge/jwks.json, not https",
        ),
        (
            "the simulator's install keys",
            |c| {
                c.atlassian.install_keys_url = "http://127.0.0.1:8090/install-keys".parse().unwrap()
            },
            "environment variable ATLASSIAN_INSTALL_KEYS_URL is http://127.0.0.1:8090/install-keys, not https",
        ),
    ];
    for (case, fall_back, expected) in cases {
        let mut config = production();
        fall_back(&mut config);
        let message = config.validate().expect_err(case).to_string();
        assert!(message.contains(expected), "{case}: {message}");
        config.server.deployment = config::Deployment::Local;
        config.validate().expect(case);
    }
}

#[test]
fn the_readme_documents_every_variable_with_its_default() {
    test_kit::readme::assert_documents(&Config::command());
}
