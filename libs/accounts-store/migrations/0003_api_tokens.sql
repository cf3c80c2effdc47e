-- Per-user API tokens, for notebooks and BI tools calling the dashboards' JSON API. As with every
-- other token, only the SHA-256 is stored: the text is shown once, when it is created.

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    -- A token acts as its user, so it goes with the account.
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    token_sha256 bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- Updated at most once a minute, so a busy notebook does not write a row per request.
    last_used_at timestamptz,
    -- Kept rather than deleted, so the owner still sees what a revoked token was.
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id, created_at DESC);
