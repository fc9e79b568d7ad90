"""The review queue's keyboard: which key does what (one table, drawn as the cheat sheet and given to
the script), and the small inline script that listens on the whole page and clicks the queue's buttons.

Streamlit's own `shortcut=` ignores every key while any input has focus (a ticked checkbox, a picked
option), so the queue listens itself: keys work whatever has focus except a text field being typed
in, where Esc leaves the field. The script is inline (`pages/_keys.html`), fetches nothing, and acts
only while the queue's buttons are on the page.
"""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from data_layer.schema import REASON_TAGS

SCRIPT = Path(__file__).with_name("_keys.html")
CONTAINER = "rq_keyboard"  # holds the script's frame, out of sight

# (key as shown, what it does); the script's table below says which button each one presses.
KEYS: tuple[tuple[str, str], ...] = (
    ("U", "thumbs up (then the next run, when advancing after a vote is on)"),
    ("D", "thumbs down (then the next run, when advancing is on)"),
    ("Shift+U / Shift+D", "vote and stay on this run, to add a comment and reasons"),
    ("C", "write a comment (Esc leaves the comment box)"),
    (f"1-{len(REASON_TAGS)}", "pick or drop a reason, in the order shown"),
    ("N", "next run (saves a comment or reasons given after the vote)"),
    ("S", "skip: the run comes back at the end of your queue"),
    ("B", "back to the run you just voted on"),
    ("?", "this list"),
)

# The button each key presses, by the start of its widget key (`pages/queue.py` adds the run).
BUTTONS = {
    "u": "rq_up",
    "U": "rq_up_stay",
    "d": "rq_down",
    "D": "rq_down_stay",
    "n": "rq_next",
    "s": "rq_skip",
    "b": "rq_back",
    "?": "rq_keys",
}


def listen() -> None:
    """Put the listener on the page: drawn once per run of the queue page, out of sight."""
    hidden = "position: absolute; left: -10000px; width: 1px; height: 1px; overflow: hidden"
    st.html(f"<style>.st-key-{CONTAINER} {{{hidden}}}</style>")
    table = {"buttons": BUTTONS, "comment": "rq_comment", "reasons": "rq_reasons", "marker": "rq_keys"}
    # out of the tab order: a frame with the focus would take the keys away from the page
    script = SCRIPT.read_text().replace("__KEYS__", json.dumps(table))
    st.iframe(script, height=1, tab_index=-1, alt="Review queue keys")


def cheat_sheet() -> str:
    """The keys as a markdown table."""
    rows = "\n".join(f"| **{key}** | {what} |" for key, what in KEYS)
    return f"| key | what it does |\n|---|---|\n{rows}"
