"""Delete checkpoint threads idle longer than the retention policy allows, the threads of temporary runs (stateless
runs, stateless crons' with `on_run_completed="delete"`) that ended without deleting them, and store items past their
TTL.

    python -m app.prune --days N --interrupted-days M [--batch-size K] [--dry-run]

Each option falls back to an environment variable (`RETENTION_DAYS`,
`RETENTION_INTERRUPTED_DAYS`, `PRUNE_BATCH_SIZE`); the database comes from
`DATABASE_URL` and must be PostgreSQL. Prints a JSON report on stdout. Exit
status: 0 done, 1 the database failed, 2 bad arguments or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg

from .contract import DEFAULT_PRUNE_BATCH_SIZE, PRUNE_COMMAND, Env
from .retention import PruneResult, RetentionPolicy, ThreadActivity, checkpoint_tables_exist, prune

DEFAULT_BATCH_SIZE = DEFAULT_PRUNE_BATCH_SIZE
MAX_BATCH_SIZE = 10_000
# The report lists at most this many thread ids; counts are always complete.
REPORT_THREAD_ID_LIMIT = 100
POSTGRES_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class Options:
    policy: RetentionPolicy
    batch_size: int
    dry_run: bool
    database_url: str


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=" ".join(PRUNE_COMMAND),
        description="Delete whole checkpoint threads whose last checkpoint is older than the retention age. "
        "PostgreSQL only (DATABASE_URL).",
    )
    parser.add_argument("--days", help=f"age in days after which a thread is deleted (env {Env.RETENTION_DAYS})")
    parser.add_argument(
        "--interrupted-days",
        help="age in days after which a thread waiting on a human (interrupted) is deleted; "
        f"at least --days (env {Env.RETENTION_INTERRUPTED_DAYS})",
    )
    parser.add_argument(
        "--batch-size",
        help=f"threads deleted per transaction, 1-{MAX_BATCH_SIZE} (env {Env.PRUNE_BATCH_SIZE}, "
        f"default {DEFAULT_BATCH_SIZE})",
    )
    parser.add_argument("--dry-run", action="store_true", help="list the threads that would be deleted, delete none")
    return parser


def _integer(parser: argparse.ArgumentParser, raw: str | None, flag: str, env: str, *, minimum: int) -> int:
    """`raw` as an integer of at least `minimum`, or a usage error naming the flag and its env var."""
    if raw is None or raw.strip() == "":
        parser.error(f"{flag} is required (or set {env})")
    try:
        value = int(raw)
    except ValueError:
        parser.error(f"{flag} (or {env}) must be a whole number, got {raw!r}")
    if value < minimum:
        parser.error(f"{flag} (or {env}) must be at least {minimum}, got {value}")
    return value


def _database_url(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> str:
    url = environ.get(Env.DATABASE_URL, "").strip()
    if not url:
        parser.error(
            f"{Env.DATABASE_URL} is not set: prune needs the PostgreSQL checkpoint database "
            "(the embedded SQLite store the server uses without it is not pruned)"
        )
    if "://" in url:
        scheme = urlsplit(url).scheme
        if scheme not in POSTGRES_SCHEMES:
            parser.error(
                f"{Env.DATABASE_URL} must be a PostgreSQL URL (postgresql://...), got scheme {scheme!r}: "
                "prune supports only PostgreSQL; the embedded SQLite store is not pruned"
            )
    elif "=" not in url:  # neither a URL nor a libpq "key=value" string
        parser.error(f"{Env.DATABASE_URL} must be a PostgreSQL URL (postgresql://...) or libpq connection string")
    return url


def parse_options(argv: Sequence[str], environ: Mapping[str, str]) -> Options:
    """Options from the command line, falling back to `environ`; exits with status 2 on bad input."""
    parser = _parser()
    args = parser.parse_args(argv)
    days = _integer(parser, args.days or environ.get(Env.RETENTION_DAYS), "--days", Env.RETENTION_DAYS, minimum=1)
    interrupted_days = _integer(
        parser,
        args.interrupted_days or environ.get(Env.RETENTION_INTERRUPTED_DAYS),
        "--interrupted-days",
        Env.RETENTION_INTERRUPTED_DAYS,
        minimum=1,
    )
    try:
        policy = RetentionPolicy(days, interrupted_days)
    except ValueError as error:
        parser.error(f"--interrupted-days/--days: {error}")
    batch_size = _integer(
        parser,
        args.batch_size or environ.get(Env.PRUNE_BATCH_SIZE) or str(DEFAULT_BATCH_SIZE),
        "--batch-size",
        Env.PRUNE_BATCH_SIZE,
        minimum=1,
    )
    if batch_size > MAX_BATCH_SIZE:
        parser.error(f"--batch-size (or {Env.PRUNE_BATCH_SIZE}) must be at most {MAX_BATCH_SIZE}, got {batch_size}")
    return Options(policy, batch_size, args.dry_run, _database_url(parser, environ))


def report(result: PruneResult, options: Options) -> dict:
    """The JSON-ready summary of a prune: complete counts, thread ids capped."""
    ids = [a.thread_id for a in result.threads]
    return {
        "dry_run": result.dry_run,
        "days": options.policy.days,
        "interrupted_days": options.policy.interrupted_days,
        "cutoff": result.cutoff.isoformat(),
        "interrupted_cutoff": result.interrupted_cutoff.isoformat(),
        "threads": len(ids),
        "interrupted_threads": sum(a.interrupted for a in result.threads),
        "batches": result.batches,
        "thread_ids": ids[:REPORT_THREAD_ID_LIMIT],
        "thread_ids_truncated": len(ids) > REPORT_THREAD_ID_LIMIT,
        "expired_store_items": result.expired_store_items,
        "expired_run_events": result.expired_run_events,
        "temporary_threads": len(result.temporary_threads),
    }


def _log_batch(batch: Sequence[ThreadActivity]) -> None:
    """One stderr line per committed batch, so a run stopped midway still shows what it did."""
    print(f"prune: batch of {len(batch)} thread(s), down to {batch[-1].thread_id!r}", file=sys.stderr, flush=True)


async def run(options: Options) -> dict:
    async with await psycopg.AsyncConnection.connect(
        options.database_url,
        autocommit=True,
        prepare_threshold=None,  # no server-side prepares: pgbouncer-safe
    ) as conn:
        if not await checkpoint_tables_exist(conn):
            raise LookupError("the database has no checkpoints table: run the migration (python -m app.migrate) first")
        result = await prune(
            conn, options.policy, batch_size=options.batch_size, dry_run=options.dry_run, on_batch=_log_batch
        )
    return report(result, options)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    options = parse_options(sys.argv[1:] if argv is None else argv, os.environ if environ is None else environ)
    try:
        summary = asyncio.run(run(options))
    except (psycopg.Error, LookupError) as error:
        print(f"prune failed: {error}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    verb = "would delete" if options.dry_run else "deleted"
    print(f"prune: {verb} {summary['threads']} thread(s) in {summary['batches']} batch(es)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
