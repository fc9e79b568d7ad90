"""An admin's change to an open queue on the Queues page: its instructions, a higher sample rate,
reviewers per run, blind, assignees and criteria added to its rubric, prefilled with the stored
definition. The data layer (`data_layer/queues/change.py`) checks the change and lets in the runs the
queue now takes; its refusal is shown beside the form and nothing changes. The selection changes
through `queue change` on the command line."""

from __future__ import annotations

import json

import streamlit as st

from data_layer import errors
from data_layer.queues.rubric import Rubric
from data_layer.queues.spec import MAX_INSTRUCTIONS, MAX_REVIEWERS_PER_ITEM
from pages import _identity, _queue_admin, _shared


def _key(name: str, field: str) -> str:
    return f"qx_{field}|{name}"


def apply(name: str) -> None:
    state = st.session_state
    try:
        rubric = Rubric.of((state.get(_key(name, "rubric")) or "").strip() or None)
        queue = _shared.store().queues.change(
            name,
            instructions=state.get(_key(name, "instructions")) or "",
            sample_rate=round(float(state.get(_key(name, "rate")) or 0) / 100, 6),
            reviewers_per_item=int(state.get(_key(name, "k")) or 1),
            blind=bool(state.get(_key(name, "blind"))),
            assignees=tuple(a.strip() for a in (state.get(_key(name, "assignees")) or "").split(",") if a.strip()),
            rubric=rubric,
            actor=_identity.actor(),
        )
    except errors.DataLayerError as error:
        _queue_admin.tell("change", error)
        return
    _shared.wrote()
    runs = f"{queue['items']:,} run{'' if queue['items'] == 1 else 's'}"
    _queue_admin.tell("change", f"Saved: queue {queue['name']} now has {runs}.")


def change_form(queue: dict) -> None:
    """The form, for an admin on an open queue."""
    if queue["closed_at"] or not _identity.can("manage_queues"):
        return
    name = queue["name"]
    with st.expander(
        "Change this queue",
        icon=":material/edit:",
        expanded=st.session_state.get(_queue_admin.SAID, ("",))[0] == "change",
    ):
        _queue_admin.said("change")
        st.caption(
            "Runs the queue now takes enter at once. The sample rate may only rise (every sampled run then "
            "weighs by the new rate); a rubric keeps its criteria as they are and may gain new ones. The "
            "selection changes with `queue change` on the command line."
        )
        with st.form(f"qx_form|{name}"):
            st.text_area(
                "Instructions (markdown, shown on every card)",
                value=queue["instructions"],
                key=_key(name, "instructions"),
                max_chars=MAX_INSTRUCTIONS,
            )
            with st.container(horizontal=True):
                st.number_input(
                    "Random sample, % of all runs",
                    queue["sample_rate"] * 100,
                    100.0,
                    queue["sample_rate"] * 100,
                    0.5,
                    key=_key(name, "rate"),
                    width=200,
                )
                st.number_input(
                    "Reviewers per run",
                    1,
                    MAX_REVIEWERS_PER_ITEM,
                    queue["reviewers_per_item"],
                    key=_key(name, "k"),
                    width=160,
                )
                st.text_input(
                    "Assignees (comma-separated; empty: every reviewer)",
                    value=", ".join(queue["assignees"]),
                    key=_key(name, "assignees"),
                    width=320,
                )
            st.checkbox(
                "Blind: a reviewer sees no other vote on a run before voting",
                value=queue["blind"],
                key=_key(name, "blind"),
            )
            st.text_area(
                "Rubric: criteria scored beside the thumbs, as a JSON list",
                value=json.dumps(queue["rubric"], indent=1) if queue["rubric"] else "",
                key=_key(name, "rubric"),
                height=150,
                placeholder=_queue_admin.RUBRIC_EXAMPLE,
                help=_queue_admin.RUBRIC_HELP,
            )
            st.form_submit_button("Save the change", icon=":material/save:", on_click=apply, args=(name,))
