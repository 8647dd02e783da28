"""Document review: analyse a document, summarise it, pause for a human decision, then record it.

Input: `{"title": str, "document": str}`. The run pauses in `human_approval` with `interrupt()`, showing
the summary and the issues found. Resume with `{"approved": true|false, "comment": "..."}` (or a bare
boolean). A malformed answer does not fail the run: the graph asks again and says what was wrong.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict

MIN_WORDS = 20
FLAGGED_MARKERS = ("TODO", "TBD", "FIXME", "XXX")


class ReviewState(TypedDict, total=False):
    title: str
    document: str
    word_count: int
    issues: list[str]
    summary: str
    answer_error: str | None
    decision: Literal["approved", "rejected"]
    reviewer_comment: str


def analyze(state: ReviewState) -> ReviewState:
    document = state.get("document") or ""
    words = re.findall(r"\S+", document)
    issues = [f"contains {marker}" for marker in FLAGGED_MARKERS if marker in document]
    if len(words) < MIN_WORDS:
        issues.append(f"shorter than {MIN_WORDS} words ({len(words)})")
    if not (state.get("title") or "").strip():
        issues.append("has no title")
    return {"word_count": len(words), "issues": issues}


def summarize(state: ReviewState) -> ReviewState:
    document = (state.get("document") or "").strip()
    first_sentence = re.split(r"(?<=[.!?])\s", document, maxsplit=1)[0]
    return {"summary": first_sentence[:280]}


def _parse_answer(answer: Any) -> tuple[bool, str] | str:
    """The decision and comment from a resume value, or an explanation of what is wrong with it."""
    if isinstance(answer, bool):
        return answer, ""
    if isinstance(answer, dict) and isinstance(answer.get("approved"), bool):
        comment = answer.get("comment", "")
        if isinstance(comment, str):
            return answer["approved"], comment
        return "'comment' must be a string"
    return "resume with {'approved': true|false, 'comment': '...'} or a boolean"


def human_approval(state: ReviewState) -> ReviewState:
    answer = interrupt(
        {
            "question": "Approve this document?",
            "title": state.get("title", ""),
            "summary": state.get("summary", ""),
            "issues": state.get("issues", []),
            "previous_answer_error": state.get("answer_error"),
        }
    )
    parsed = _parse_answer(answer)
    if isinstance(parsed, str):
        return {"answer_error": parsed}
    approved, comment = parsed
    return {"answer_error": None, "decision": "approved" if approved else "rejected", "reviewer_comment": comment}


def _after_approval(state: ReviewState) -> str:
    return "human_approval" if state.get("answer_error") else "finalize"


def finalize(state: ReviewState) -> ReviewState:
    return {"summary": f"[{state['decision'].upper()}] {state.get('summary', '')}"}


graph = (
    StateGraph(ReviewState)
    .add_node(analyze)
    .add_node(summarize)
    .add_node(human_approval)
    .add_node(finalize)
    .add_edge(START, "analyze")
    .add_edge("analyze", "summarize")
    .add_edge("summarize", "human_approval")
    .add_conditional_edges("human_approval", _after_approval, ["human_approval", "finalize"])
    .add_edge("finalize", END)
)
