//! What the dashboards tests share: the service on a fresh Postgres (migrated by onboarding,
//! which owns it) and a fresh ClickHouse (migrated by the warehouse), and the accounts,
//! organizations and tokens onboarding would have made, written through onboarding's own store.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, SystemTime};

use accounts_store::{api_tokens, organizations, roles::Role, sessions, users};
use test_kit::{Stack, TestApp};
use uuid::Uuid;

pub use contracts::InstallationId;

pub struct Setup {
    pub app: TestApp,
    pub pool: deadpool_postgres::Pool,
    pub warehouse: clickhouse::Client,
    http: reqwest::Client,
}

pub struct Answer {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
    pub content_type: String,
    pub content_security_policy: Option<String>,
    pub cache_control: Option<String>,
    pub strict_transport_security: Option<String>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|err| panic!("{err}: {}", self.body))
    }
}

impl Setup {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts with `adjust` applied to the configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut dashboards::Config)) -> Self {
        let stack = Stack::from_env();
        let mut config = dashboards::Config::from_env().unwrap();
        config.server.listen_on_free_ports();
        config.postgres = stack.fresh_postgres().await;
        config.clickhouse = stack.fresh_clickhouse().await;
        config.onboarding_url = "http://onboarding.test".parse().unwrap();
        adjust(&mut config);
        let pool = config.postgres.pool().unwrap();
        accounts_store::migrate(&pool).await.unwrap();
        let warehouse = config.clickhouse.client();
        warehouse::migrate(&config.clickhouse).await.unwrap();
        Self {
            app: TestApp::spawn(dashboards::build(config).await.unwrap()),
            pool,
            warehouse,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// A user with a session; answers the user and the `Cookie` header value.
    pub async fn user(&self, name: &str) -> (Uuid, String) {
        let client = self.pool.get().await.unwrap();
        let email = format!("{name}.{}@example.test", Uuid::new_v4().simple());
        let id = users::create(&client, &email, "not-a-real-hash")
            .await
            .unwrap()
            .unwrap();
        let token = sessions::start(&client, id, Duration::from_secs(600))
            .await
            .unwrap();
        (id, format!("mf_session={token}"))
    }

    /// An API token of the user, made in a password session; answers its id and the
    /// `Authorization` header value.
    pub async fn api_token(&self, user: Uuid) -> (Uuid, String) {
        self.api_token_via(user, "password").await
    }

    /// An API token of the user, made in a session signed in with `method`.
    pub async fn api_token_via(&self, user: Uuid, method: &str) -> (Uuid, String) {
        let client = self.pool.get().await.unwrap();
        let name = api_tokens::TokenName::parse("notebook").unwrap();
        let expires_at = api_tokens::TokenLifetime::default().expiry_from(SystemTime::now());
        let (id, token) = api_tokens::create(&client, user, &name, expires_at, method)
            .await
            .unwrap();
        (id, format!("Bearer {}", token.text))
    }

    /// An organization owning one installed workspace, installation `workspace`.
    pub async fn organization(&self, owner: Uuid, workspace: InstallationId) -> Uuid {
        let client = self.pool.get().await.unwrap();
        let organization = organizations::create_with_owner(&client, "Acme", owner)
            .await
            .unwrap();
        client
            .execute(
                "INSERT INTO installations (id, source, client_key, base_url, state, organization_id)
                 VALUES ($1, 'connect', $2, 'https://acme.atlassian.net', 'installed', $3)",
                &[&workspace, &client_key(), &organization],
            )
            .await
            .unwrap();
        organization
    }

    /// An organization owned by `owner` holding the workspace the real onboarding stored at
    /// its signed install (`client_key`), connected as a setup link connects it.
    pub async fn organization_of_install(&self, owner: Uuid, client_key: &str) -> Uuid {
        let client = self.pool.get().await.unwrap();
        let organization = organizations::create_with_owner(&client, "Acme", owner)
            .await
            .unwrap();
        let connected = client
            .execute(
                "UPDATE installations SET organization_id = $2 WHERE client_key = $1",
                &[&client_key, &organization],
            )
            .await
            .unwrap();
        assert_eq!(connected, 1, "the install reached Postgres");
        organization
    }

    pub async fn member(&self, organization: Uuid, user: Uuid, role: Role) {
        let client = self.pool.get().await.unwrap();
        organizations::add_member(&client, organization, user, role)
            .await
            .unwrap();
    }

    /// GETs `path` with `credential`: a `Cookie` value, or an `Authorization` value when it
    /// starts with `Bearer `.
    pub async fn get(&self, path: &str, credential: &str) -> Answer {
        let mut request = self.http.get(format!("{}{path}", self.app.address));
        if credential.starts_with("Bearer ") {
            request = request.header("Authorization", credential);
        } else if !credential.is_empty() {
            request = request.header("Cookie", credential);
        }
        let response = request.send().await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let location = header("location");
        let content_type = header("content-type").unwrap_or_default();
        Answer {
            status: response.status().as_u16(),
            location,
            content_type,
            content_security_policy: header("content-security-policy"),
            cache_control: header("cache-control"),
            strict_transport_security: header("strict-transport-security"),
            body: response.text().await.unwrap(),
        }
    }
}

/// A workspace's installation id, as onboarding would assign it.
pub fn workspace() -> InstallationId {
    InstallationId::new_random()
}

/// A client key, Atlassian's name for a workspace, different from every installation id.
pub fn client_key() -> String {
    format!("ck-{}", Uuid::new_v4())
}
