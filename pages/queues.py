"""Queues: how far each review queue is, who is behind, and what its random sample says about all
traffic.

The list of queues with their runs done and left; for the queue chosen (kept in the URL as `queue`):
its definition, the progress per reviewer (every reviewer for a lead or an admin, else the reader's
own row), the estimate of the share of good runs overall and by assistant, model and week beside the
end users' thumbs, the reviewers' agreement (on the thumbs and per rubric criterion), the sample rate
a chosen margin needs, and the runs the reviewers split on, where a lead sets the verdict. Admins
define queues (with a rubric), change and close them here.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from data_layer import errors
from pages import _identity, _queue_admin, _queue_change, _queue_numbers, _shared
from pages._text import plain, safe_markdown


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def listing(reader) -> list[dict]:
    return _shared.store().queues.list(actor=reader)


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def choices() -> tuple[list[str], list[str]]:
    store = _shared.store()
    return store.threads.assistants(), store.runs.models()


def overview(queues: list[dict]) -> None:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "queue": queue["name"],
                    "state": "closed" if queue["closed_at"] else "open",
                    "sample": f"{queue['sample_rate']:.1%}" if queue["sample_rate"] else "selection only",
                    "reviewers per run": queue["reviewers_per_item"],
                    "blind": "blind" if queue["blind"] else "",
                    "runs": queue["items"],
                    "done": queue["done"],
                    "remaining": queue["items"] - queue["done"],
                }
                for queue in queues
            ]
        ),
        hide_index=True,
        key="qs_list",
    )


def definition(queue: dict) -> None:
    """What the queue takes in and how it is worked."""
    how = [
        f"**{'closed' if queue['closed_at'] else 'open'}**",
        f"random sample of {queue['sample_rate']:.1%} of all runs (seed {queue['seed']})"
        if queue["sample_rate"]
        else "no random sample",
        f"{queue['reviewers_per_item']} reviewer{'s' if queue['reviewers_per_item'] > 1 else ''} per run",
        "blind" if queue["blind"] else "not blind",
        "assignees: " + plain(", ".join(queue["assignees"])) if queue["assignees"] else "every reviewer",
        f"defined by {plain(queue['created_by'])} on {_shared.when(queue['created_at'])}",
    ]
    st.markdown(" · ".join(how))
    selection = queue["selection"]
    if selection:
        st.markdown("Selection: " + plain(", ".join(f"{key} = {value}" for key, value in sorted(selection.items()))))
    if queue["rubric"]:
        st.markdown("Rubric: " + " · ".join(criterion_said(criterion) for criterion in queue["rubric"]))
    if queue["instructions"]:
        st.info(safe_markdown(queue["instructions"]), icon=":material/assignment:")


def criterion_said(criterion: dict) -> str:
    """A criterion in a few words, escaped: `tone (categorical: warm, neutral, curt)`."""
    how = [criterion["kind"] + (": " + ", ".join(criterion["options"]) if criterion.get("options") else "")]
    if criterion.get("required"):
        how.append("required")
    return f"{plain(criterion['name'])} ({plain(', '.join(how))})"


st.title("Queues")
reader = _identity.reader()
try:
    queues = listing(reader)
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()
if _identity.can("manage_queues"):
    _queue_admin.create_form(*choices())
if not queues:
    st.info("No queue is defined yet.", icon=":material/playlist_add:")
    st.stop()
overview(queues)
named = {queue["name"]: queue for queue in queues}
st.selectbox(
    "Queue", list(named), index=None, placeholder="choose a queue", key="queue", bind="query-params", width=320
)
queue = named.get(st.session_state.get("queue") or "")
if queue is None:
    st.stop()
st.header(plain(queue["name"]))
definition(queue)
_queue_change.change_form(queue)
_queue_admin.close_control(queue)
try:
    _queue_numbers.progress_section(queue["name"], reader)
    _queue_numbers.estimate_section(queue["name"], reader)
    _queue_numbers.agreement_section(queue["name"], reader)
    _queue_numbers.advice_section(queue["name"], reader)
    _queue_admin.adjudication_section(queue["name"], reader)
except errors.DataLayerError as error:
    _shared.show_error(error)
