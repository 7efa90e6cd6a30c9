-- Sluice's schema. Portable between SQLite and PostgreSQL: TEXT, BIGINT and
-- DOUBLE PRECISION only; JSON documents are stored as TEXT; booleans as 0/1.

CREATE TABLE IF NOT EXISTS teams (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    metadata TEXT,
    limits TEXT,
    budget TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS consumers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    team_id TEXT,
    metadata TEXT,
    limits TEXT,
    budget TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    name TEXT,
    consumer_id TEXT,
    imported BIGINT NOT NULL DEFAULT 0,
    metadata TEXT,
    allowed_models TEXT,
    allowed_routes TEXT,
    limits TEXT,
    budget TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);

CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    key_id TEXT,
    consumer TEXT,
    team TEXT,
    route TEXT,
    endpoint TEXT,
    request_model TEXT,
    response_model TEXT,
    provider TEXT,
    upstream_model TEXT,
    status BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    stream BIGINT NOT NULL,
    cache TEXT,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    cached_read_tokens BIGINT NOT NULL,
    cached_write_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL,
    usage_source TEXT,
    cost_usd DOUBLE PRECISION,
    latency_ms DOUBLE PRECISION NOT NULL,
    ttft_ms DOUBLE PRECISION,
    gateway_ms DOUBLE PRECISION,
    record TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS requests_started_at ON requests (started_at);
CREATE INDEX IF NOT EXISTS requests_key ON requests (key_id, started_at);
CREATE INDEX IF NOT EXISTS requests_consumer ON requests (consumer, started_at);
CREATE INDEX IF NOT EXISTS requests_team ON requests (team, started_at);
CREATE INDEX IF NOT EXISTS requests_model ON requests (request_model, started_at);
