//! Every installation ingress may accept events for, held in memory so no request queries
//! Postgres. A follower keeps it current: it LISTENs for the store's change notification (sent by a
//! trigger on every write), reloads the changed row, and reloads everything periodically and
//! after any reconnect, so a missed notification heals within the resync interval. While
//! Postgres is away the last known state keeps serving.

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use accounts_store::installations::read_model;
use contracts::{ClientKey, InstallationId, Source};
use futures::{FutureExt, StreamExt, future::BoxFuture};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use service_runtime::{DependencyCheck, retry::RetryPolicy, secret_cipher::SecretCipher};
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;

pub struct Installation {
    pub id: InstallationId,
    /// `id` as text, made once: it labels a metric on every accepted event.
    pub id_label: String,
    pub client_key: ClientKey,
    pub source: Source,
    /// Decrypted shared secret (Connect) or HMAC secret (webhook); none for Forge.
    pub secret: Option<SecretSlice<u8>>,
    /// Only installed workspaces may send; uninstalled and disabled ones are refused.
    pub installed: bool,
}

#[derive(Clone, Default)]
pub struct Installations {
    by_client_key: Arc<RwLock<HashMap<String, Arc<Installation>>>>,
    loaded: Arc<AtomicBool>,
}

impl Installations {
    pub fn get(&self, client_key: &str) -> Option<Arc<Installation>> {
        self.by_client_key
            .read()
            .expect("installation cache lock")
            .get(client_key)
            .cloned()
    }

    fn replace_all(&self, all: HashMap<String, Arc<Installation>>) {
        *self.by_client_key.write().expect("installation cache lock") = all;
        self.loaded.store(true, Ordering::Release);
    }

    fn upsert(&self, installation: Installation) {
        self.by_client_key
            .write()
            .expect("installation cache lock")
            .insert(installation.client_key.to_string(), Arc::new(installation));
    }

    fn remove(&self, client_key: &str) {
        self.by_client_key
            .write()
            .expect("installation cache lock")
            .remove(client_key);
    }

    pub fn len(&self) -> usize {
        self.by_client_key
            .read()
            .expect("installation cache lock")
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Follows Postgres until `stop` is cancelled; reconnects with capped backoff.
    pub async fn follow(
        self,
        database_url: SecretString,
        cipher: SecretCipher,
        resync: Duration,
        stop: CancellationToken,
    ) {
        const RECONNECT: RetryPolicy =
            RetryPolicy::new(Duration::from_millis(200), Duration::from_secs(5));
        RECONNECT
            .until_ok(
                "installation follower lost Postgres; serving the last known state",
                &stop,
                || self.follow_once(&database_url, &cipher, resync, &stop),
            )
            .await;
    }

    /// One connection's worth of following; returns Ok only when asked to stop.
    async fn follow_once(
        &self,
        database_url: &SecretString,
        cipher: &SecretCipher,
        resync: Duration,
        stop: &CancellationToken,
    ) -> anyhow::Result<()> {
        let (client, mut connection) =
            tokio_postgres::connect(database_url.expose_secret(), NoTls).await?;
        let (notify_tx, mut notifications) = tokio::sync::mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(note)) => {
                        if notify_tx.send(note.payload().to_owned()).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(err) => return Err(err),
                }
            }
            Ok(())
        });
        client
            .batch_execute(&read_model::listen_statement())
            .await?;
        // Load after LISTEN: a change between the two is then seen by one or the other.
        self.reload_all(&client, cipher).await?;
        let mut ticker = tokio::time::interval(resync);
        ticker.tick().await;
        loop {
            tokio::select! {
                () = stop.cancelled() => {
                    driver.abort();
                    return Ok(());
                }
                note = notifications.recv() => match note {
                    Some(client_key) => self.reload_one(&client, cipher, &client_key).await?,
                    None => anyhow::bail!("the notification connection closed"),
                },
                _ = ticker.tick() => self.reload_all(&client, cipher).await?,
            }
        }
    }

    async fn reload_all(
        &self,
        client: &tokio_postgres::Client,
        cipher: &SecretCipher,
    ) -> anyhow::Result<()> {
        let all = read_model::all(client)
            .await?
            .into_iter()
            .filter_map(|access| decrypted(access, cipher))
            .map(|installation| (installation.client_key.to_string(), Arc::new(installation)))
            .collect();
        self.replace_all(all);
        Ok(())
    }

    async fn reload_one(
        &self,
        client: &tokio_postgres::Client,
        cipher: &SecretCipher,
        client_key: &str,
    ) -> anyhow::Result<()> {
        let access = read_model::by_client_key(client, client_key).await?;
        match access.and_then(|access| decrypted(access, cipher)) {
            Some(installation) => self.upsert(installation),
            None => self.remove(client_key),
        }
        Ok(())
    }
}

fn decrypted(access: read_model::Access, cipher: &SecretCipher) -> Option<Installation> {
    let secret = match access.encrypted_secret {
        None => None,
        Some(stored) => match cipher.decrypt(&stored) {
            Ok(secret) => Some(secret),
            Err(err) => {
                // Refusing this installation's events is safer than guessing.
                tracing::error!(client_key = %access.client_key, error = %err, "cannot decrypt the installation's secret");
                return None;
            }
        },
    };
    Some(Installation {
        id: access.id,
        id_label: access.id.to_string(),
        client_key: access.client_key,
        source: access.source,
        secret,
        installed: access.installed,
    })
}

/// Ready once the cache has been loaded at least once. Postgres going away later does not make
/// ingress unready: it keeps accepting events for the installations it knows.
pub struct InstallationsLoaded(pub Installations);

impl DependencyCheck for InstallationsLoaded {
    fn name(&self) -> &'static str {
        "installations"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        let loaded = self.0.loaded.load(Ordering::Acquire);
        async move {
            if loaded {
                Ok(())
            } else {
                Err("not loaded from Postgres yet".to_owned())
            }
        }
        .boxed()
    }
}
