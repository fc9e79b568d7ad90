"""The Queues page's actions: a lead's verdicts on the runs reviewers split on, and an admin's queue
definition (with its rubric, a JSON list of criteria checked by the data layer's `Rubric`) and
closing. Each write runs in a widget callback, before the page is drawn again, so the page shows the
stored result; what it says (saved, or the data layer's error) waits in the session for the next
drawing (`said`)."""

from __future__ import annotations

import streamlit as st

from data_layer import errors
from data_layer.filters import Filters
from data_layer.queues import QueueSpec
from data_layer.queues.adjudication import MAX_NOTE, VERDICTS
from data_layer.queues.rubric import Rubric
from data_layer.queues.spec import MAX_INSTRUCTIONS, MAX_REVIEWERS_PER_ITEM
from data_layer.schema import RUN_STATUSES
from pages import _identity, _shared
from pages._text import code, plain, quoted, safe_markdown

SAID = "qs_said"
LISTED = 50
RUBRIC_EXAMPLE = """[{"name": "factual", "kind": "binary", "required": true},
 {"name": "helpfulness", "kind": "ordinal", "labels": ["useless", "poor", "fair", "good", "excellent"]},
 {"name": "tone", "kind": "categorical", "options": ["warm", "neutral", "curt"]}]"""
RUBRIC_HELP = (
    "Each criterion: `name` (a-z, 0-9, _), `kind` (`binary`: yes or no; `ordinal`: 1 to 5; `categorical`: one "
    "of its `options`), `required` (true or false), a short `description`, `labels` for an ordinal one's five "
    "points. The same list `queue create --rubric FILE.json` takes. Leave empty for the thumbs alone."
)


def tell(where: str, message: str | errors.DataLayerError) -> None:
    st.session_state[SAID] = (where, message)


def said(where: str) -> None:
    """Show what the last action at `where` answered, once."""
    told = st.session_state.get(SAID)
    if not told or told[0] != where:
        return
    del st.session_state[SAID]
    message = told[1]
    if isinstance(message, errors.DataLayerError):
        _shared.show_error(message)
    else:
        st.success(plain(message), icon=":material/check_circle:")  # it names ids that came from outside


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def disputes(name: str, reader) -> list[dict]:
    return _shared.store().queues.adjudications(name, actor=reader, limit=LISTED + 1)


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def reviews(run_id: str, reader) -> list[dict]:
    votes = _shared.store().feedback.list_by_run_id(run_id, actor=reader)
    return [vote for vote in votes if vote["source"] == "reviewer" and not vote.get("message_id")]


def decide(name: str, run_id: str) -> None:
    state = st.session_state
    try:
        decided = _shared.store().queues.adjudicate(
            name,
            run_id,
            verdict=state.get(f"qs_verdict|{run_id}"),
            note=state.get(f"qs_note|{run_id}") or "",
            actor=_identity.actor(),
        )
    except errors.DataLayerError as error:
        tell(run_id, error)
        return
    _shared.wrote()
    tell(run_id, f"Saved: run {run_id[:8]} is {decided['verdict']}, by {decided['owner_id']}.")


def adjudication_section(name: str, reader) -> None:
    st.subheader("Adjudication")
    rows = disputes(name, reader)
    may = _identity.can("adjudicate")
    if not rows:
        st.caption("No run here has votes both ways: nothing to settle.")
        return
    open_ = sum(row["verdict"] is None for row in rows[:LISTED])
    st.caption(
        f"Runs the reviewers split on (a tie is disputed; votes both ways may deserve a look), {open_} without a "
        "verdict. A verdict, with a note saying why, overrides the reviewers' consensus in every estimate"
        + ("." if may else "; a lead or an admin sets it.")
        + (f" The first {LISTED} are listed." if len(rows) > LISTED else "")
    )
    for row in rows[:LISTED]:
        run_id = row["run_id"]
        with st.container(border=True, key=f"qs_dispute|{run_id}"):
            top = st.columns([3, 1])
            with top[0]:
                verdict = (
                    f"verdict **{row['verdict']}** by {plain(row['decided_by'])}: {plain(row['note'])}"
                    if row["verdict"]
                    else "no verdict yet"
                )
                st.markdown(
                    f"Run {code(run_id)} · {row['good_votes']} good, {row['bad_votes']} bad · "
                    f"consensus **{plain(row['consensus'] or '–')}** · {verdict}"
                )
            # A button, not a link: a thread id is content from outside, never drawn into an href.
            if top[1].button("Open the thread", icon=":material/forum:", key=f"qs_open|{run_id}"):
                st.switch_page("pages/thread.py", query_params={"thread": row["thread_id"], "run": run_id})
            votes = reviews(run_id, reader)
            for vote in votes:
                st.markdown(f"{_shared.thumb(vote['rating'])} **{plain(vote['owner_id'])}**")
                if vote.get("comment"):
                    # a block of its own: safe markdown is safe as a whole, never spliced into a line
                    with st.container(key=f"qs_comment|{run_id}|{vote['feedback_id']}"):
                        st.markdown(safe_markdown(vote["comment"]))
            if len(votes) < row["good_votes"] + row["bad_votes"]:
                st.caption("Some votes are hidden from you: this run is still open to you in a blind queue.")
            said(run_id)
            if may:
                with st.form(f"qs_decide|{run_id}", border=False):
                    cells = st.columns([1, 3, 1], vertical_alignment="bottom")
                    cells[0].segmented_control(
                        "Verdict", VERDICTS, key=f"qs_verdict|{run_id}", default=row["verdict"] or None
                    )
                    cells[1].text_input(
                        "Note (why)", key=f"qs_note|{run_id}", max_chars=MAX_NOTE, value=row["note"] or ""
                    )
                    cells[2].form_submit_button(
                        "Set verdict", icon=":material/gavel:", on_click=decide, args=(name, run_id)
                    )


def create() -> None:
    state = st.session_state
    dates = state.get("qc_dates") or ()
    try:
        rubric = Rubric.of((state.get("qc_rubric") or "").strip() or None)
    except errors.DataLayerError as error:
        tell("rubric", error)
        return
    try:
        spec = QueueSpec(
            name=(state.get("qc_name") or "").strip(),
            instructions=state.get("qc_instructions") or "",
            selection=Filters(
                assistant_id=state.get("qc_assistant"),
                model_name=state.get("qc_model"),
                status=state.get("qc_status"),
                since=dates[0] if dates else None,
                until=dates[-1] if dates else None,
                negative_user_feedback=bool(state.get("qc_complaints")),
                follow_ups_only=bool(state.get("qc_follow_ups")),
            ),
            sample_rate=round(float(state.get("qc_rate") or 0) / 100, 6),
            reviewers_per_item=int(state.get("qc_k") or 1),
            blind=bool(state.get("qc_blind")),
            assignees=tuple(a.strip() for a in (state.get("qc_assignees") or "").split(",") if a.strip()),
            rubric=rubric,
        )
        queue = _shared.store().queues.create(spec, actor=_identity.actor())
    except errors.DataLayerError as error:
        tell("create", error)
        return
    _shared.wrote()
    state["queue"] = queue["name"]
    scored = len(queue["rubric"])
    rubric_said = f" and a rubric of {scored} criteri{'on' if scored == 1 else 'a'}" if scored else ""
    tell("create", f"Saved: queue {queue['name']} with {queue['items']:,} runs{rubric_said}.")


def create_form(assistants: list[str], models: list[str]) -> None:
    with st.expander(
        "Define a queue",
        icon=":material/add:",
        expanded=st.session_state.get(SAID, ("",))[0] in ("create", "rubric"),
    ):
        said("create")
        with st.form("qc_form"):
            st.text_input("Name", key="qc_name", max_chars=200, placeholder="weekly-sample")
            st.text_area(
                "Instructions (markdown, shown on every card)", key="qc_instructions", max_chars=MAX_INSTRUCTIONS
            )
            st.markdown("**Selection**: runs that enter whatever the sample (leave empty for a sample alone)")
            with st.container(horizontal=True):
                st.selectbox("Assistant", assistants, index=None, placeholder="any", key="qc_assistant", width=190)
                st.selectbox("Model", models, index=None, placeholder="any", key="qc_model", width=190)
                st.selectbox("Run status", RUN_STATUSES, index=None, placeholder="any", key="qc_status", width=150)
                st.date_input("Run started between", value=(), key="qc_dates", width=230)
            with st.container(horizontal=True):
                st.checkbox("Runs with a thumbs-down from end users", key="qc_complaints")
                st.checkbox("Follow-up runs", key="qc_follow_ups")
            with st.container(horizontal=True):
                st.number_input("Random sample, % of all runs", 0.0, 100.0, 5.0, 0.5, key="qc_rate", width=200)
                st.number_input("Reviewers per run", 1, MAX_REVIEWERS_PER_ITEM, 1, key="qc_k", width=160)
                st.text_input("Assignees (comma-separated; empty: every reviewer)", key="qc_assignees", width=320)
            st.checkbox("Blind: a reviewer sees no other vote on a run before voting", key="qc_blind")
            st.text_area(
                "Rubric (optional): criteria scored beside the thumbs, as a JSON list",
                key="qc_rubric",
                height=150,
                placeholder=RUBRIC_EXAMPLE,
                help=RUBRIC_HELP,
            )
            said("rubric")
            st.form_submit_button("Create queue", icon=":material/playlist_add:", on_click=create)


def close(name: str) -> None:
    try:
        _shared.store().queues.close(name, actor=_identity.actor())
    except errors.DataLayerError as error:
        tell("close", error)
        return
    _shared.wrote()
    tell("close", f"Saved: queue {name} is closed; no run enters it any more, its items and votes stay.")


def close_control(queue: dict) -> None:
    said("close")
    if queue["closed_at"] or not _identity.can("manage_queues"):
        return
    with st.popover("Close this queue", icon=":material/block:"):
        st.markdown(f"No run will enter {quoted(queue['name'])} any more; its items and votes stay.")
        st.button("Close it", key="qs_close", type="primary", on_click=close, args=(queue["name"],))
