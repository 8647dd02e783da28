"""The `threads` table of the LangGraph Server API, applied by `app.migrate` (migration 1, both backends)."""

POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    thread_id text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    status text NOT NULL DEFAULT 'idle' CHECK (status IN ('idle', 'busy', 'interrupted', 'error')),
    state_values jsonb,
    interrupts jsonb NOT NULL DEFAULT '{}'::jsonb,
    run_id text,
    run_started_at timestamptz
);
CREATE INDEX IF NOT EXISTS threads_metadata_idx ON threads USING gin (metadata jsonb_path_ops);
CREATE INDEX IF NOT EXISTS threads_created_at_idx ON threads (created_at);
CREATE INDEX IF NOT EXISTS threads_updated_at_idx ON threads (updated_at)
"""

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    thread_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'idle' CHECK (status IN ('idle', 'busy', 'interrupted', 'error')),
    state_values TEXT,
    interrupts TEXT NOT NULL DEFAULT '{}',
    run_id TEXT,
    run_started_at TEXT
);
CREATE INDEX IF NOT EXISTS threads_updated_at_idx ON threads (updated_at)
"""
