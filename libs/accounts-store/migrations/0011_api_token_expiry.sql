-- API tokens expire: a token that leaked into a notebook or a repository stops working on its
-- own. NULL means the owner chose "never". Tokens from before get a year from their creation,
-- but at least 30 days from now, so no program in use is cut off without time to replace it.
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
UPDATE api_tokens
SET expires_at = greatest(created_at + interval '1 year', now() + interval '30 days')
WHERE revoked_at IS NULL;
