"""The corrected answer beside a vote: the reviewer's "Correct the answer" box, and a correction drawn as a
diff against the agent's answer (the data layer keeps it with the vote, `data_layer/corrections.py`).

The diff is text made here with difflib and drawn as a `diff` code block, which shows every character as it
is: nothing of the agent's or the reviewer's words is read as markdown or HTML, and nothing is fetched.
Lines are compared sentence by sentence, so one changed sentence in a long paragraph stands out alone.
"""

from __future__ import annotations

import difflib
import re

import streamlit as st

from data_layer import auth, corrections

LABEL = "Correct the answer (optional)"
HELP = (
    "The answer the agent should have given, in markdown. It is saved with your vote, exported with it and "
    "shown below as a diff against the agent's answer; empty it to remove it."
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def may_correct(who: auth.Actor | None) -> bool:
    """Whether `who` may write a correction beside its vote (`corrections.CORRECTING_ROLES`)."""
    return who is not None and who.role in corrections.CORRECTING_ROLES


def _units(text: str | None) -> list[str]:
    """The text's lines, each cut after its sentences' ends."""
    return [unit for line in (text or "").splitlines() for unit in _SENTENCE_END.split(line)]


def diff_text(answer: str | None, correction: str) -> str:
    """A unified diff from the agent's answer to the correction, with the whole text as context."""
    before, after = _units(answer), _units(correction)
    lines = difflib.unified_diff(
        before, after, "agent's answer", "correction", lineterm="", n=max(len(before), len(after))
    )
    return "\n".join(lines)


def field(key: str, on_change, args: tuple) -> None:
    """The reviewer's correction box; `on_change` saves it with the vote, as the comment is."""
    st.text_area(
        LABEL,
        key=key,
        max_chars=corrections.MAX_LENGTH,
        height=120,
        on_change=on_change,
        args=args,
        help=HELP,
        placeholder="Write the answer the agent should have given…",
    )


def show(answer: str | None, correction: str, *, whose: str = "Your correction") -> None:
    """The correction as a diff against the agent's answer (red: taken out, green: put in)."""
    diff = diff_text(answer, correction)
    if not diff:
        st.caption(f"{whose} is the same as the agent's answer.")
        return
    st.caption(f"{whose}, as a diff against the agent's answer (− taken out, + put in):")
    st.code(diff, language="diff", wrap_lines=True)
