-- Key rotation with a grace period: the replaced key keeps working until
-- previous_expires_at.
ALTER TABLE api_keys ADD COLUMN previous_hash TEXT;
ALTER TABLE api_keys ADD COLUMN previous_expires_at BIGINT;
CREATE INDEX IF NOT EXISTS api_keys_previous_hash ON api_keys (previous_hash);
