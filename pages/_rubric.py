"""The rubric on a queue's card: an input per criterion (binary yes/no, ordinal 1 to 5 with its labels,
categorical one of its options), required ones marked, held in the session with the comment and reasons
(`pages/_review.py` saves them with the vote, through the queue's submit, which enforces the required ones).
"""

from __future__ import annotations

import streamlit as st

from pages import _identity
from pages._text import plain

RUBRIC = "rq_rubric"  # the rubric of the queue being worked: (queue name, criteria), or absent


def use(queue: dict | None) -> None:
    """Make the queue's rubric the one the card's votes are scored and saved with (none: plain votes)."""
    if queue and queue.get("rubric"):
        st.session_state[RUBRIC] = (queue["name"], queue["rubric"])
    else:
        st.session_state.pop(RUBRIC, None)


def active() -> tuple[str, list[dict]] | None:
    return st.session_state.get(RUBRIC)


def _key(run_id: str, name: str) -> str:
    """The session key of one criterion's input for one run (beside `_review.key`'s comment and tags)."""
    return f"rq|{_identity.reviewer()}|{run_id}|score:{name}"


def _shown(criterion: dict, value):
    """A stored score as its input holds it."""
    if criterion["kind"] == "binary":
        return "yes" if value else "no"
    return value


def start(run_id: str, mine: dict | None) -> None:
    """Each criterion's input as the store holds the vote's score, unless the reviewer has set it already."""
    rubric = active()
    saved = (mine or {}).get("scores") or {}
    for criterion in rubric[1] if rubric else ():
        value = saved.get(criterion["name"])
        st.session_state.setdefault(
            _key(run_id, criterion["name"]), None if value is None else _shown(criterion, value)
        )


def draft(run_id: str) -> dict | None:
    """The scores set on the card (criterion to value), or None without a rubric."""
    rubric = active()
    if rubric is None:
        return None
    found = {c["name"]: st.session_state.get(_key(run_id, c["name"])) for c in rubric[1]}
    return {name: value for name, value in found.items() if value is not None}


def differs(run_id: str, mine: dict | None) -> bool:
    """Whether the scores on the card differ from the vote's stored ones."""
    scores = draft(run_id)
    if scores is None:
        return False
    rubric = active() or ("", [])
    saved = (mine or {}).get("scores") or {}
    stored = {c["name"]: _shown(c, saved[c["name"]]) for c in rubric[1] if c["name"] in saved}
    return scores != stored


def missing(run_id: str) -> list[str]:
    """The required criteria not set on the card yet."""
    rubric = active()
    scores = draft(run_id) or {}
    return [c["name"] for c in (rubric[1] if rubric else ()) if c.get("required") and c["name"] not in scores]


def inputs(run: dict, on_change) -> None:
    """An input per criterion of the rubric; `on_change(run)` runs on a change (the card saves it at once
    when the run has the reviewer's vote)."""
    rubric = active()
    if rubric is None:
        return
    with st.container(key="rq_rubric_inputs"):
        st.markdown("**Rubric** (\\* required)")
        for criterion in rubric[1]:
            name = criterion["name"]
            label = plain(name) + (" \\*" if criterion.get("required") else "")
            common = {
                "key": _key(run["run_id"], name),
                "help": criterion.get("description") or None,
                "on_change": on_change,
                "args": (run,),
            }
            if criterion["kind"] == "binary":
                st.segmented_control(label, ["yes", "no"], **common)
            elif criterion["kind"] == "ordinal":
                labels = criterion.get("labels") or []
                st.segmented_control(
                    label,
                    [1, 2, 3, 4, 5],
                    format_func=lambda point, labels=labels: (
                        f"{point} · {plain(labels[point - 1])}" if labels else str(point)
                    ),
                    **common,
                )
            else:
                st.pills(label, criterion.get("options") or [], format_func=plain, **common)


def scores_line(scores: dict) -> str:
    """A vote's scores in one line of text, already escaped: `factual: yes · helpfulness: 4 · tone: curt`."""
    shown = {True: "yes", False: "no"}
    return " · ".join(
        f"{plain(name)}: {plain(shown[value] if isinstance(value, bool) else str(value))}"
        for name, value in scores.items()
    )
