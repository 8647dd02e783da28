"""The `runs` and `run_events` tables of the run engine, applied by `app.migrate` (migration 3, both backends).

At most one run per thread is `running`: a partial unique index says so, whatever process asks. Submitting
a run locks its thread's row (PostgreSQL: `app_submit_run`, one round trip), so the multitask strategy is
decided against every pending and running run of the thread, on any pod.

Migration 7 also gives every thread with checkpoints but no row (the `/graphs` API wrote those before migration 3)
an idle row, so no submit takes such a thread for one it creates.
"""

ACTIVE_STATUSES = ("pending", "running")
RUN_STATUSES = ("pending", "running", "success", "error", "interrupted", "timeout")

POSTGRES_TABLES = """
CREATE TABLE IF NOT EXISTS runs (
    run_id text PRIMARY KEY,
    thread_id text NOT NULL,
    graph_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'running', 'success', 'error', 'interrupted', 'timeout')),
    kwargs jsonb NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    multitask_strategy text NOT NULL DEFAULT 'reject',
    temporary boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    ended_at timestamptz,
    worker_id text,
    lease_expires_at timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    cancel_requested text CHECK (cancel_requested IN ('interrupt', 'rollback')),
    error text
);
CREATE UNIQUE INDEX IF NOT EXISTS runs_one_running_per_thread ON runs (thread_id) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS runs_pending_idx ON runs (created_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS runs_lease_idx ON runs (lease_expires_at) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS runs_thread_idx ON runs (thread_id, created_at);
CREATE TABLE IF NOT EXISTS run_events (
    run_id text NOT NULL,
    seq integer NOT NULL,
    event text NOT NULL,
    data text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, seq)
);
"""
# Submitting a run, in one round trip (migration 3; migration 6 replaced it so a thread's metadata names the run's
# assistant by id, as on the official server, instead of the graph's name; migration 7 so a run started on a thread
# it created says so, with `bound_graph`, and the engine skips reading that thread's checkpoint). The outcomes stay
# what older servers expect: during a rolling update, pods of the previous release call the new function.
SUBMIT_RUN_FUNCTION = """
CREATE OR REPLACE FUNCTION app_submit_run(
    p_run_id text, p_thread_id text, p_graph_id text, p_strategy text, p_create_thread boolean,
    p_kwargs jsonb, p_metadata jsonb, p_temporary boolean, p_start boolean, p_worker text, p_lease interval
) RETURNS TABLE (outcome text, bound_graph text, active_run text) LANGUAGE plpgsql AS $$
DECLARE
    thread record;
    active text;
    -- the thread is bound to the graph; its metadata names the assistant
    binding jsonb := jsonb_build_object('graph_id', p_graph_id,
        'assistant_id', coalesce(p_kwargs #>> '{config,configurable,assistant_id}', p_graph_id));
BEGIN
    IF p_create_thread AND p_start THEN  -- a new thread: created busy with its run, in one tuple
        INSERT INTO threads (thread_id, metadata, status)
        VALUES (p_thread_id, binding, 'busy')
        ON CONFLICT (thread_id) DO NOTHING;
        IF FOUND THEN
            INSERT INTO runs (run_id, thread_id, graph_id, status, kwargs, metadata, multitask_strategy, temporary,
                              started_at, worker_id, lease_expires_at, attempts)
            VALUES (p_run_id, p_thread_id, p_graph_id, 'running', p_kwargs, p_metadata, p_strategy, p_temporary,
                    now(), p_worker, now() + p_lease, 1);
            -- started; `bound_graph` set only here: this submit created the thread (and bound it to the graph)
            RETURN QUERY SELECT 'started'::text, p_graph_id, NULL::text;
            RETURN;
        END IF;
    ELSIF p_create_thread THEN
        INSERT INTO threads (thread_id, metadata)
        VALUES (p_thread_id, binding)
        ON CONFLICT (thread_id) DO NOTHING;
    END IF;
    SELECT * INTO thread FROM threads WHERE thread_id = p_thread_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'thread_not_found'::text, NULL::text, NULL::text;
        RETURN;
    END IF;
    IF coalesce(thread.metadata->>'graph_id', p_graph_id) <> p_graph_id THEN
        RETURN QUERY SELECT 'graph_conflict'::text, thread.metadata->>'graph_id', NULL::text;
        RETURN;
    END IF;
    SELECT r.run_id INTO active FROM runs r
    WHERE r.thread_id = p_thread_id AND r.status IN ('pending', 'running') ORDER BY r.created_at LIMIT 1;
    IF active IS NOT NULL AND p_strategy = 'reject' THEN
        RETURN QUERY SELECT 'busy'::text, NULL::text, active;
        RETURN;
    END IF;
    IF active IS NOT NULL AND p_strategy IN ('interrupt', 'rollback') THEN
        UPDATE runs SET status = 'interrupted', ended_at = now(), updated_at = now(),
            error = 'cancelled before it started: a newer run used multitask_strategy ' || p_strategy
        WHERE thread_id = p_thread_id AND status = 'pending';
        UPDATE runs SET cancel_requested = p_strategy, updated_at = now()
        WHERE thread_id = p_thread_id AND status = 'running';
    END IF;
    IF active IS NULL AND p_start THEN
        INSERT INTO runs (run_id, thread_id, graph_id, status, kwargs, metadata, multitask_strategy, temporary,
                          started_at, worker_id, lease_expires_at, attempts)
        VALUES (p_run_id, p_thread_id, p_graph_id, 'running', p_kwargs, p_metadata, p_strategy, p_temporary,
                now(), p_worker, now() + p_lease, 1);
    ELSE
        INSERT INTO runs (run_id, thread_id, graph_id, status, kwargs, metadata, multitask_strategy, temporary)
        VALUES (p_run_id, p_thread_id, p_graph_id, 'pending', p_kwargs, p_metadata, p_strategy, p_temporary);
    END IF;
    UPDATE threads SET status = 'busy', updated_at = now(),
        metadata = metadata || binding
    WHERE thread_id = p_thread_id;
    RETURN QUERY SELECT (CASE WHEN active IS NULL AND p_start THEN 'started' ELSE 'queued' END)::text,
        NULL::text, active;
END
$$
"""
POSTGRES_SCHEMA = POSTGRES_TABLES + SUBMIT_RUN_FUNCTION

# Migration 7: a row, idle and without metadata, for every thread that has checkpoints and none.
POSTGRES_THREAD_ROWS = """
INSERT INTO threads (thread_id)
SELECT DISTINCT c.thread_id FROM checkpoints c
WHERE NOT EXISTS (SELECT 1 FROM threads t WHERE t.thread_id = c.thread_id)
ON CONFLICT (thread_id) DO NOTHING
"""
SQLITE_THREAD_ROWS = """
INSERT INTO threads (thread_id, created_at, updated_at)
SELECT DISTINCT c.thread_id, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'), strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
FROM checkpoints c
WHERE NOT EXISTS (SELECT 1 FROM threads t WHERE t.thread_id = c.thread_id)
ON CONFLICT (thread_id) DO NOTHING
"""


SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    graph_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'success', 'error', 'interrupted', 'timeout')),
    kwargs TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    multitask_strategy TEXT NOT NULL DEFAULT 'reject',
    temporary INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT,
    worker_id TEXT,
    lease_expires_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel_requested TEXT CHECK (cancel_requested IN ('interrupt', 'rollback')),
    error TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS runs_one_running_per_thread ON runs (thread_id) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS runs_pending_idx ON runs (created_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS runs_thread_idx ON runs (thread_id, created_at);
CREATE TABLE IF NOT EXISTS run_events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (run_id, seq)
)
"""
