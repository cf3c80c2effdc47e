use clap::CommandFactory;

use super::*;

/// What the case is, how it breaks a valid config, and what the refusal must say.
type Case = (&'static str, fn(&mut Config), &'static str);

/// The declared defaults in local mode, as the local stack runs them.
fn defaults() -> Config {
    config::defaults(["--deployment", "local"]).expect("the declared defaults parse")
}

/// A key that is not the committed one, as a deployment's `SECRETS_KEY` would be.
const PRODUCTION_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// Local defaults with every development fallback replaced, in production mode.
fn production() -> Config {
    let mut config = defaults();
    config.server.deployment = config::Deployment::Production;
    config.cipher = SecretCipher::parse_key(PRODUCTION_KEY).unwrap();
    config.verify.forge.jwks_url = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json"
        .parse()
        .unwrap();
    config
}

#[test]
fn the_defaults_work_on_the_local_stack() {
    let config = defaults();
    config.validate().unwrap();
    assert_eq!(
        config.server.listen,
        Some("127.0.0.1:8080".parse().unwrap())
    );
    assert_eq!(config.server.admin_listen.to_string(), "127.0.0.1:9180");
    assert_eq!(config.server.max_connections, 512);
    assert_eq!(config.topics.raw_partitions, 8);
    assert_eq!(
        config.verify.forge.app_id,
        atlassian_auth::forge_fit::DEMO_APP_ID
    );
}

#[test]
fn validate_refuses_what_could_only_fail_later() {
    let cases: [Case; 7] = [
        (
            "no body at all",
            |c| c.max_body_bytes = 0,
            "INGRESS_MAX_BODY_BYTES has an invalid value \"0\": must be at least 1",
        ),
        (
            "no time for a body",
            |c| c.body_read_timeout = Duration::ZERO,
            "INGRESS_BODY_READ_TIMEOUT_MS has an invalid value \"0\"",
        ),
        (
            "no room in the queue",
            |c| c.producer.queue_max_messages = 0,
            "KAFKA_QUEUE_MAX_MESSAGES",
        ),
        (
            "a public URL that is not http",
            |c| c.verify.public_base_url = "ftp://example.org".parse().unwrap(),
            "PUBLIC_BASE_URL has an invalid value \"ftp://example.org/\": must be an http or https URL",
        ),
        (
            "dead letters into the raw topic",
            |c| c.topics.dead_letter = c.topics.raw.clone(),
            "KAFKA_DEAD_LETTER_TOPIC has an invalid value \"jira.raw-events\"",
        ),
        (
            "no replay window",
            |c| c.verify.replay_window = Duration::ZERO,
            "INGRESS_REPLAY_WINDOW_SECS has an invalid value \"0\"",
        ),
        (
            "no pool",
            |c| c.postgres.pool_size = 0,
            "DATABASE_POOL_SIZE",
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
fn outside_local_mode_each_development_fallback_is_refused_naming_its_variable() {
    let unset: Config = config::defaults(std::iter::empty()).unwrap();
    assert_eq!(
        unset.server.deployment,
        config::Deployment::Production,
        "production unless DEPLOYMENT says local"
    );
    production().validate().expect("no fallback left");
    let cases: [Case; 2] = [
        (
            "the development SECRETS_KEY (what an unset or empty one falls back to)",
            |c| c.cipher = SecretCipher::parse_key(DEVELOPMENT_KEY).unwrap(),
            "environment variable SECRETS_KEY is unset, empty or the development key committed \
             in the repository, a development fallback only DEPLOYMENT=local allows",
        ),
        (
            "the simulator's Forge JWKS",
            |c| {
                c.verify.forge.jwks_url = atlassian_auth::forge_fit::LOCAL_JWKS_URL.parse().unwrap()
            },
            "environment variable FORGE_JWKS_URL is http://127.0.0.1:8090/forge/jwks.json, not https",
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
