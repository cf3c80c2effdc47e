-- An email that can never be delivered (Jira does not know the user, the mail server refuses
-- the recipient for good) is given up on rather than retried for ever. Giving up also sets
-- `cancelled_at`, so the sender and the backlog gauge pass over it as over a cancelled one;
-- `failed_at` tells the two apart, for the pages that say an email did not arrive.
ALTER TABLE outbox ADD COLUMN failed_at timestamptz;
