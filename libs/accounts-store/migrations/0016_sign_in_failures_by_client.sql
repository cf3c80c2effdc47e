-- Failed sign-ins are also counted per client address, so one client guessing across many
-- addresses is stopped too, not only guesses at one address (security issue 17, finding 6).
-- Rows from before this migration have no client: they still count for their address.
ALTER TABLE sign_in_failures ADD COLUMN client text;
CREATE INDEX sign_in_failures_by_client ON sign_in_failures (client, at) WHERE client IS NOT NULL;
