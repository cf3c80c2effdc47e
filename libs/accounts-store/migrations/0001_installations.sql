-- Every connected Jira workspace, whichever way it reached us. Ingress keeps a copy of this table
-- in memory and follows it through the `installation_changed` notification.
CREATE TABLE installations (
    id              uuid PRIMARY KEY,
    -- connect: Atlassian Connect (JWT webhooks); forge: Forge Remote (FIT); webhook: an admin
    -- registered webhook with an HMAC secret (Jira Data Center or a Cloud admin webhook).
    source          text NOT NULL CHECK (source IN ('connect', 'forge', 'webhook')),
    -- Connect: the clientKey; Forge: the installation ARI; webhook: the connection id in the URL.
    client_key      text NOT NULL UNIQUE,
    -- The Jira site, e.g. https://acme.atlassian.net.
    base_url        text NOT NULL,
    cloud_id        text,
    -- AES-256-GCM (nonce || ciphertext) of the shared secret (Connect) or HMAC secret (webhook);
    -- NULL for Forge, whose tokens are verified with Atlassian's public keys.
    secret          bytea,
    state           text NOT NULL CHECK (state IN ('installed', 'uninstalled', 'disabled')),
    installer_account_id text,
    display_name    text NOT NULL DEFAULT '',
    installed_at    timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    uninstalled_at  timestamptz
);

CREATE FUNCTION notify_installation_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('installation_changed', NEW.client_key);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

-- A trigger rather than a NOTIFY in each writer: no code path can change an installation
-- without every ingress hearing of it.
CREATE TRIGGER installation_changed
    AFTER INSERT OR UPDATE ON installations
    FOR EACH ROW EXECUTE FUNCTION notify_installation_changed();

-- Lifecycle tokens already acted on, kept until they expire, so a replayed callback is refused.
CREATE TABLE lifecycle_tokens_seen (
    token_sha256 bytea PRIMARY KEY,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX lifecycle_tokens_seen_expiry ON lifecycle_tokens_seen (expires_at);
