//! Webhooks a Jira admin registers by hand (Jira Data Center, or a Cloud admin webhook): each
//! is a connection with its own URL (`/webhooks/{id}`) and HMAC secret. Until organizations
//! manage them in the UI, `onboarding webhook-connection create` makes one.

use deadpool_postgres::Pool;
use rand::{Rng, distributions::Alphanumeric};
use service_runtime::secret_cipher::SecretCipher;

use accounts_store::{
    installations::{self, NewInstallation, Source},
    setup_links,
};

pub struct CreatedConnection {
    pub id: String,
    /// Shown once, to be pasted into Jira's webhook form; stored only encrypted.
    pub secret: String,
    /// The one-time setup link token that connects it to an organization (there is no
    /// installing Jira user to email it to).
    pub setup_token: String,
}

pub async fn create(
    pool: &Pool,
    cipher: &SecretCipher,
    name: &str,
    jira_base_url: &str,
    setup_link_ttl: std::time::Duration,
) -> anyhow::Result<CreatedConnection> {
    let id = format!("wh_{}", random_token(24));
    let secret = random_token(40);
    let encrypted = cipher.encrypt(secret.as_bytes());
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let recorded = installations::record_install(
        &transaction,
        &NewInstallation {
            source: Source::WebhookSecret,
            client_key: &id,
            base_url: jira_base_url,
            cloud_id: None,
            encrypted_secret: Some(&encrypted),
            installer_account_id: None,
            display_name: name,
            api_base_url: None,
            encrypted_system_token: None,
        },
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("the connection id {id} is already taken; try again"))?;
    let (setup, _) = setup_links::mint(&transaction, recorded.id, setup_link_ttl, None).await?;
    transaction.commit().await?;
    Ok(CreatedConnection {
        id,
        secret,
        setup_token: setup.text,
    })
}

fn random_token(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}
