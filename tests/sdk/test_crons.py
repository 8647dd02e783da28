"""Crons through the official `langgraph-sdk` client, on PostgreSQL (with a second replica on the same database)
and on the embedded SQLite file: create, search, count, update, delete, the errors, and firing on schedule.

Schedules with a sixth field (seconds, as croniter reads it) make firing quick to observe. The `memory` graph
writes each run's fact to the store, so the runs of stateless crons (whose threads are deleted) can be counted.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import NotFoundError, UnprocessableEntityError

from app.contract import METRICS_PATH, Env, Metrics
from app.server.settings import Settings

EVERY_SECOND = "* * * * * *"
DAILY = "0 3 * * *"


def _tag() -> dict[str, str]:
    return {"test": uuid.uuid4().hex}


def _eventually(check: Callable[[], bool], timeout: float = 15, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not met within {timeout}s")


def _facts(client: SyncLangGraphClient, user: str) -> list[str]:
    items = client.store.search_items(("memories", user), limit=100)["items"]
    return [item["value"]["fact"] for item in items]


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_create_for_thread_returns_the_cron(client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    before = datetime.now(UTC)
    cron = client.crons.create_for_thread(
        thread_id, "steps", schedule=DAILY, input={"value": 1}, metadata={"owner": "ops"}, multitask_strategy="reject"
    )
    uuid.UUID(cron["cron_id"])
    assert cron["thread_id"] == thread_id
    assert cron["assistant_id"] == client.assistants.get("steps")["assistant_id"]
    assert cron["schedule"] == DAILY and cron["enabled"] is True and cron["on_run_completed"] is None
    assert cron["metadata"] == {"owner": "ops"} and cron["end_time"] is None and cron["user_id"] is None
    assert cron["payload"]["input"] == {"value": 1} and cron["payload"]["multitask_strategy"] == "reject"
    assert cron["payload"]["config"]["configurable"]["cron_id"] == cron["cron_id"]
    next_run = _at(cron["next_run_date"])
    assert next_run > before and next_run.hour == 3 and next_run - before <= timedelta(days=1)


def test_a_stateless_cron_deletes_its_threads_unless_asked_to_keep_them(client: SyncLangGraphClient) -> None:
    assert client.crons.create("steps", schedule=DAILY)["on_run_completed"] == "delete"
    assert client.crons.create("steps", schedule=DAILY, on_run_completed="keep")["on_run_completed"] == "keep"


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda c, t: c.crons.create("steps", schedule="every minute"), "'every minute'"),
        (lambda c, t: c.crons.create("steps", schedule="* * * *"), "Invalid cron schedule"),
        (lambda c, t: c.crons.create("steps", schedule=DAILY, timezone="Mars/Olympus"), "timezone"),
        (lambda c, t: c.crons.create("steps", schedule=DAILY, timezone="x" * 300), "timezone"),
        (lambda c, t: c.crons.create("steps", schedule=DAILY, webhook="https://example.com/h"), "webhook"),
        (lambda c, t: c.crons.create("steps", schedule=DAILY, input={"value": "x"}), "value"),
        (lambda c, t: c.crons.create("steps", schedule=DAILY, stream_mode="nope"), "stream_mode"),
        (lambda c, t: c.crons.create("not-a-uuid", schedule=DAILY), "Invalid assistant ID"),
        (lambda c, t: c.crons.update("not-a-uuid", enabled=False), "Invalid cron ID"),
        (lambda c, t: c.crons.create_for_thread(t, "steps", schedule="61 * * * *"), "Invalid cron schedule"),
        (lambda c, t: c.crons.create("steps", schedule="0 0 30 2 *"), "'0 0 30 2 *'"),  # no February 30th
    ],
)
def test_bad_requests_are_a_422_naming_what_is_wrong(
    client: SyncLangGraphClient, call: Callable[[SyncLangGraphClient, str], object], named: str
) -> None:
    thread_id = client.threads.create()["thread_id"]
    with pytest.raises(UnprocessableEntityError) as raised:
        call(client, thread_id)
    assert named in raised.value.message


def test_missing_assistants_threads_and_crons_are_a_404(client: SyncLangGraphClient) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(NotFoundError, match=missing):
        client.crons.create(missing, schedule=DAILY)
    with pytest.raises(NotFoundError, match="missing-thread"):
        client.crons.create_for_thread("missing-thread", "steps", schedule=DAILY)
    with pytest.raises(NotFoundError, match=missing):
        client.crons.update(missing, enabled=False)
    with pytest.raises(NotFoundError, match=missing):
        client.crons.delete(missing)


def test_search_and_count_filter_sort_and_page(client: SyncLangGraphClient) -> None:
    tag = _tag()
    thread_id = client.threads.create()["thread_id"]
    review = client.assistants.create("review")["assistant_id"]
    stateless = client.crons.create("steps", schedule="0 5 * * *", metadata=tag)
    on_thread = client.crons.create_for_thread(thread_id, "steps", schedule="0 4 * * *", metadata=tag)
    other = client.crons.create(review, schedule="0 6 * * *", metadata=tag, enabled=False)
    ids = [stateless["cron_id"], on_thread["cron_id"], other["cron_id"]]

    found = client.crons.search(metadata=tag)
    assert [c["cron_id"] for c in found] == ids[::-1]  # newest first
    assert client.crons.count(metadata=tag) == 3
    assert [c["cron_id"] for c in client.crons.search(metadata=tag, assistant_id="steps")] == ids[1::-1]
    assert client.crons.count(metadata=tag, assistant_id=review) == 1
    assert [c["cron_id"] for c in client.crons.search(thread_id=thread_id)] == [on_thread["cron_id"]]
    assert client.crons.count(thread_id=thread_id) == 1
    assert [c["cron_id"] for c in client.crons.search(metadata=tag, enabled=False)] == [other["cron_id"]]
    by_next = client.crons.search(metadata=tag, sort_by="next_run_date", sort_order="asc")
    assert [c["cron_id"] for c in by_next] == [on_thread["cron_id"], stateless["cron_id"], other["cron_id"]]
    assert [c["cron_id"] for c in client.crons.search(metadata=tag, limit=1, offset=1)] == [on_thread["cron_id"]]
    assert client.crons.search(metadata=tag, select=["cron_id", "schedule"], limit=1) == [
        {"cron_id": other["cron_id"], "schedule": "0 6 * * *"}
    ]


def test_update_changes_the_schedule_fields_and_the_run(client: SyncLangGraphClient) -> None:
    cron = client.crons.create("steps", schedule=DAILY, input={"value": 1}, metadata={"a": 1})
    end = datetime.now(UTC) + timedelta(days=7)
    updated = client.crons.update(
        cron["cron_id"], schedule="30 * * * *", metadata={"b": 2}, input={"value": 5}, enabled=False, end_time=end
    )
    assert updated["schedule"] == "30 * * * *" and updated["enabled"] is False
    assert _at(updated["next_run_date"]).minute == 30
    assert _at(updated["next_run_date"]) - datetime.now(UTC) <= timedelta(hours=1)
    assert updated["metadata"] == {"a": 1, "b": 2}
    assert updated["payload"]["input"] == {"value": 5}
    assert updated["payload"]["config"]["configurable"]["cron_id"] == cron["cron_id"]
    assert _at(updated["end_time"]) == end
    assert _at(updated["updated_at"]) > _at(cron["updated_at"])
    assert client.crons.update(cron["cron_id"], end_time=None)["end_time"] is None
    with pytest.raises(UnprocessableEntityError, match="Invalid cron schedule"):
        client.crons.update(cron["cron_id"], schedule="nope")
    with pytest.raises(UnprocessableEntityError, match="value"):
        client.crons.update(cron["cron_id"], input={"value": "x"})


def test_delete_removes_the_cron(client: SyncLangGraphClient) -> None:
    tag = _tag()
    cron = client.crons.create("steps", schedule=DAILY, metadata=tag)
    client.crons.delete(cron["cron_id"])
    assert client.crons.search(metadata=tag) == []
    with pytest.raises(NotFoundError):
        client.crons.delete(cron["cron_id"])


def test_a_thread_cron_fires_on_schedule_until_deleted(client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    cron = client.crons.create_for_thread(thread_id, "steps", schedule=EVERY_SECOND, input={"value": 1})
    _eventually(
        lambda: sum(r["status"] == "success" for r in client.runs.list(thread_id)) >= 2, what="two successful runs"
    )
    client.crons.delete(cron["cron_id"])
    time.sleep(1.5)  # a firing claimed before the delete may still queue its run
    settled = len(client.runs.list(thread_id, limit=100))
    time.sleep(2.5)
    assert len(client.runs.list(thread_id, limit=100)) == settled
    run = client.runs.list(thread_id)[0]
    assert run["kwargs"]["config"]["configurable"]["cron_id"] == cron["cron_id"]


@pytest.mark.parametrize("on_run_completed", ["delete", "keep"])
def test_a_stateless_cron_runs_on_new_threads(client: SyncLangGraphClient, on_run_completed: str) -> None:
    user = uuid.uuid4().hex
    cron = client.crons.create(
        "memory", schedule=EVERY_SECOND, input={"fact": user}, context={"user_id": user},
        on_run_completed=on_run_completed,
    )  # fmt: skip
    _eventually(lambda: len(_facts(client, user)) >= 2, what="two cron runs")
    client.crons.delete(cron["cron_id"])
    time.sleep(2)  # the runs already queued finish
    threads = client.threads.search(metadata={"graph_id": "memory"}, limit=1000)
    mine = [t for t in threads if (t["values"] or {}).get("fact") == user]
    if on_run_completed == "delete":
        assert mine == []
    else:
        assert len(mine) == len(_facts(client, user)) >= 2  # a thread per run
        assert len({t["thread_id"] for t in mine}) == len(mine)


def _execute(env: dict[str, str], statement: str, *params: object) -> None:
    """Run one SQL statement on the server's database (`?` placeholders), as another process would."""
    if url := env.get(Env.DATABASE_URL):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(statement.replace("?", "%s"), params)
        return
    with sqlite3.connect(Settings(data_dir=Path(env[Env.DATA_DIR])).sqlite_path, timeout=10) as conn:
        conn.execute(statement, params)


def _set_next_run_date(env: dict[str, str], cron_id: str, when: datetime) -> None:
    """Move a cron's next run into the past, as if the servers had been down since then."""
    _execute(
        env, "UPDATE crons SET next_run_date = ? WHERE cron_id = ?", when.isoformat(timespec="microseconds"), cron_id
    )


def test_a_schedule_missed_during_downtime_fires_once(client: SyncLangGraphClient, server_env: dict[str, str]) -> None:
    user = uuid.uuid4().hex
    cron = client.crons.create(
        "memory", schedule=DAILY, input={"fact": "missed"}, context={"user_id": user}, metadata={"user": user}
    )
    _set_next_run_date(server_env, cron["cron_id"], datetime.now(UTC) - timedelta(days=10))
    _eventually(lambda: len(_facts(client, user)) == 1, what="the missed firing")
    time.sleep(3)
    assert _facts(client, user) == ["missed"]  # ten missed 03:00s, one run
    (after,) = client.crons.search(metadata={"user": user})
    assert _at(after["next_run_date"]) > datetime.now(UTC)


def test_two_replicas_fire_a_schedule_once(client: SyncLangGraphClient, second_replica: SyncLangGraphClient) -> None:
    user = uuid.uuid4().hex
    when = datetime.now(UTC) + timedelta(seconds=4)  # one second of the year, due on both replicas at once
    schedule = f"{when.minute} {when.hour} {when.day} {when.month} * {when.second}"
    second_replica.crons.create(
        "memory", schedule=schedule, input={"fact": "once"}, context={"user_id": user}, metadata={"user": user}
    )
    _eventually(lambda: len(_facts(client, user)) >= 1, what="the firing")
    time.sleep(3)
    assert _facts(second_replica, user) == ["once"]


def test_deleting_a_thread_deletes_its_crons(client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    client.crons.create_for_thread(thread_id, "steps", schedule=DAILY)
    client.threads.delete(thread_id)
    assert client.crons.count(thread_id=thread_id) == 0


def test_fires_are_counted(client: SyncLangGraphClient, server_url: str) -> None:
    thread_id = client.threads.create()["thread_id"]
    cron = client.crons.create_for_thread(thread_id, "steps", schedule=EVERY_SECOND, input={"value": 1})
    _eventually(lambda: len(client.runs.list(thread_id)) >= 1, what="a cron run")
    client.crons.delete(cron["cron_id"])
    metrics = httpx.get(f"{server_url}{METRICS_PATH}").text
    created = [
        line for line in metrics.splitlines() if line.startswith(f'{Metrics.CRON_FIRES}{{outcome="run_created"}}')
    ]
    assert created and float(created[0].split()[-1]) >= 1


def test_a_cron_whose_thread_was_pruned_is_deleted_when_it_fires(
    client: SyncLangGraphClient, server_env: dict[str, str]
) -> None:
    thread_id = client.threads.create()["thread_id"]
    cron = client.crons.create_for_thread(thread_id, "steps", schedule=DAILY)
    _execute(server_env, "DELETE FROM threads WHERE thread_id = ?", thread_id)  # as app.prune deletes it
    _set_next_run_date(server_env, cron["cron_id"], datetime.now(UTC) - timedelta(minutes=1))
    _eventually(lambda: client.crons.count(thread_id=thread_id) == 0, what="the cron's deletion")


def test_get_returns_the_cron_as_the_official_server_does(client: SyncLangGraphClient) -> None:
    cron = client.crons.create("steps", schedule=DAILY)
    assert client.http.get(f"/runs/crons/{cron['cron_id']}") == cron  # no client method; the official route
    with pytest.raises(NotFoundError):
        client.http.get(f"/runs/crons/{uuid.uuid4()}")


def test_runs_carry_the_crons_metadata_as_updated(client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    cron = client.crons.create_for_thread(thread_id, "steps", schedule=DAILY, metadata={"team": "a", "keep": 1})
    client.crons.update(cron["cron_id"], metadata={"team": "b"}, schedule=EVERY_SECOND)
    _eventually(lambda: len(client.runs.list(thread_id)) >= 1, what="a cron run")
    client.crons.delete(cron["cron_id"])
    metadata = client.runs.list(thread_id)[-1]["metadata"]
    assert {key: metadata.get(key) for key in ("team", "keep")} == {"team": "b", "keep": 1}
