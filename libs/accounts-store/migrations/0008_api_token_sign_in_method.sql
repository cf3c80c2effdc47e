-- How the session that created each API token was signed in (`password`, `google`,
-- `microsoft`): a token acts with that method, so an organization that requires single sign-on
-- refuses tokens made in a password session. Tokens from before are taken as `password`.
ALTER TABLE api_tokens ADD COLUMN created_via text NOT NULL DEFAULT 'password';
