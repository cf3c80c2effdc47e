-- Sign-in with Google and Microsoft (OpenID Connect): the identities linked to each account, and
-- the sign-ins under way between our redirect to the provider and its redirect back.

-- An identity is who the provider says signed in: the pair (issuer, subject), never the email.
-- For Microsoft the issuer names the tenant and the subject is the object id (`oid`), so the key
-- is (tenant, object id).
CREATE TABLE identities (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Our name for the provider (`google`, `microsoft`): one identity per provider per account.
    provider     text NOT NULL,
    issuer       text NOT NULL,
    subject      text NOT NULL,
    -- The address the provider gave at the last sign-in, shown in the account's settings only.
    email        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (issuer, subject),
    UNIQUE (user_id, provider)
);

-- One row per redirect to a provider: `state` (only its SHA-256 here) names it, it belongs to the
-- browser whose visitor cookie started it, it is used at most once and lives a few minutes. The
-- nonce and the PKCE verifier are only worth something together with a code from that browser.
CREATE TABLE oidc_flows (
    state_sha256   bytea PRIMARY KEY,
    visitor_sha256 bytea NOT NULL,
    provider       text NOT NULL,
    nonce          text NOT NULL,
    pkce_verifier  text NOT NULL,
    -- Set when a signed-in user links the provider to their account, rather than signing in.
    link_user_id   uuid REFERENCES users (id) ON DELETE CASCADE,
    next           text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz
);
CREATE INDEX oidc_flows_by_expiry ON oidc_flows (expires_at);
