"""Tables of the LangGraph Server API, applied by `app.migrate` (both backends): `threads` (migration 1),
`assistants` and `assistant_versions` (migration 4), `crons` (migration 5)."""

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

# Migration 4: assistants as records. `assistants` holds each assistant's current version, `assistant_versions`
# every version it has had (the current one included).
ASSISTANTS_POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS assistants (
    assistant_id text PRIMARY KEY,
    graph_id text NOT NULL,
    name text NOT NULL,
    description text,
    config jsonb NOT NULL DEFAULT '{}'::jsonb,
    context jsonb NOT NULL DEFAULT '{}'::jsonb,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    version integer NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS assistants_graph_id_idx ON assistants (graph_id);
CREATE TABLE IF NOT EXISTS assistant_versions (
    assistant_id text NOT NULL REFERENCES assistants (assistant_id) ON DELETE CASCADE,
    version integer NOT NULL,
    graph_id text NOT NULL,
    name text NOT NULL,
    description text,
    config jsonb NOT NULL DEFAULT '{}'::jsonb,
    context jsonb NOT NULL DEFAULT '{}'::jsonb,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (assistant_id, version)
)
"""

ASSISTANTS_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS assistants (
    assistant_id TEXT PRIMARY KEY,
    graph_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    config TEXT NOT NULL DEFAULT '{}',
    context TEXT NOT NULL DEFAULT '{}',
    metadata TEXT NOT NULL DEFAULT '{}',
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS assistants_graph_id_idx ON assistants (graph_id);
CREATE TABLE IF NOT EXISTS assistant_versions (
    assistant_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    graph_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    config TEXT NOT NULL DEFAULT '{}',
    context TEXT NOT NULL DEFAULT '{}',
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    PRIMARY KEY (assistant_id, version)
)
"""

# Migration 5: crons. `next_run_date` is when the schedule next fires (UTC); a scheduler claims due rows and moves
# it to the next time after now, so a schedule missed during downtime fires once. `payload` is the run to create.
CRONS_POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS crons (
    cron_id text PRIMARY KEY,
    assistant_id text NOT NULL,
    thread_id text,
    user_id text,
    schedule text NOT NULL,
    timezone text,
    payload jsonb NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    on_run_completed text CHECK (on_run_completed IN ('delete', 'keep')),
    enabled boolean NOT NULL DEFAULT true,
    end_time timestamptz,
    next_run_date timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS crons_due_idx ON crons (next_run_date) WHERE enabled;
CREATE INDEX IF NOT EXISTS crons_thread_idx ON crons (thread_id);
CREATE INDEX IF NOT EXISTS crons_assistant_idx ON crons (assistant_id)
"""

CRONS_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS crons (
    cron_id TEXT PRIMARY KEY,
    assistant_id TEXT NOT NULL,
    thread_id TEXT,
    user_id TEXT,
    schedule TEXT NOT NULL,
    timezone TEXT,
    payload TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    on_run_completed TEXT CHECK (on_run_completed IN ('delete', 'keep')),
    enabled INTEGER NOT NULL DEFAULT 1,
    end_time TEXT,
    next_run_date TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS crons_due_idx ON crons (next_run_date);
CREATE INDEX IF NOT EXISTS crons_thread_idx ON crons (thread_id);
CREATE INDEX IF NOT EXISTS crons_assistant_idx ON crons (assistant_id)
"""
