"""The README's promises that code can check: runbooks per alert, commands and links that exist."""

import re
from pathlib import Path

from infra import ALERTS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of a markdown text."""
    headings = re.findall(r"^#{1,6} (.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_alert_has_a_runbook_section_and_every_runbook_an_alert() -> None:
    anchors = _anchors(README)
    assert {alert.anchor for alert in ALERTS} <= anchors
    runbooks = set(re.findall(r"^#{2,3} Alert: (\w+)$", README, flags=re.MULTILINE))
    assert runbooks == {alert.name for alert in ALERTS}


def test_quick_start_is_two_commands() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    first_block = quick_start.split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == ["make run", "make test"]


def test_make_targets_the_readme_names_exist() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, flags=re.MULTILINE))
    named = set(re.findall(r"`make ([a-z][\w-]*)", README))
    assert named and named <= targets, sorted(named - targets)


def test_local_links_resolve() -> None:
    for target in re.findall(r"\]\(((?!https?:)[^)#]+)(?:#[^)]*)?\)", README):
        assert (ROOT / target).exists(), f"README links to missing {target}"


def test_moving_from_langgraph_platform_shows_the_client_pointed_here() -> None:
    section = README.split("### Moving from LangGraph Platform", 1)[1]
    assert "from langgraph_sdk import get_client" in section
    assert "client.runs.wait(" in section
    assert 'command={"resume"' in section
