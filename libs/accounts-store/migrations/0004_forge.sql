-- Forge installations: where the site's REST API is reached (`app.apiBaseUrl` of the FIT), and the
-- app system token Forge hands the remote in `x-forge-oauth-system`, AES-256-GCM encrypted like
-- `secret` (nonce || ciphertext). Short-lived: each lifecycle call brings a fresh one. Kept out
-- of `secret`, which ingress reads as the Connect shared secret.
ALTER TABLE installations
    ADD COLUMN api_base_url text,
    ADD COLUMN forge_system_token bytea;
