"""Datasets: evaluation datasets made from reviewed runs, and their downloads.

An admin or a lead saves the runs of the insight pages' filters (the same filter bar, carried from page to
page) or of one queue, kept by a verdict rule, as a named snapshot (`data_layer.datasets`); saving a name
again makes its next version, and a version never changes. Everyone who may read sees the snapshots and
downloads each as JSONL, Parquet or its card; a file is read from the store only when its button is
clicked (a callable `data`, run by Streamlit in a worker thread).
"""

from __future__ import annotations

import json

import streamlit as st

from data_layer import datasets, errors
from pages import _filters, _identity, _shared

FILE_LABELS = {"jsonl": "JSONL", "parquet": "Parquet", "card": "Card (README.md)"}
ANY_QUEUE = ""


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def load_datasets(_store, url: str, reader) -> list[dict]:
    return datasets.listing(_store, actor=reader)


@st.cache_data(ttl=_shared.READ_TTL, show_spinner=False)
def load_queue_names(_store, url: str, reader) -> list[str]:
    return [queue["name"] for queue in _store.queues.list(actor=reader)]


def runs(count: int) -> str:
    return f"{count:,} run" + ("" if count == 1 else "s")


def file_reader(store, reader, dataset: dict, fmt: str):
    """What a download button calls on click: the stored file's bytes."""

    def read() -> bytes:
        return b"".join(datasets.content(store, dataset["name"], dataset["version"], fmt, actor=reader))

    return read


def save_form(store, reader) -> None:
    """The filter bar, the verdict rule, an optional queue and a name; saving makes the next version."""
    st.subheader("Save as dataset")
    try:
        chosen = _filters.filter_bar(_filters.load_choices(store, store.url, reader), prefix="datasets")
        queues = load_queue_names(store, store.url, reader)
    except errors.DataLayerError as error:
        _shared.show_error(error)
        return
    rules = "; ".join(f"{name}: {meaning}" for name, meaning in datasets.VERDICTS.items())
    with st.form("ds_form"):
        name_column, verdict_column, queue_column = st.columns([2, 1.5, 2])
        name = name_column.text_input(
            "Name",
            key="ds_name",
            max_chars=100,
            placeholder="support-good-runs",
            help="Letters, digits, _ and -. Saving a name that exists makes its next version.",
        )
        verdict = verdict_column.selectbox("Verdict", list(datasets.VERDICTS), key="ds_verdict", help=rules)
        queue = queue_column.selectbox(
            "Queue",
            [ANY_QUEUE, *queues],
            key="ds_queue",
            format_func=lambda value: value or "Any run (the filters alone)",
            help="Only the items of this queue, within the filters above.",
        )
        saved = st.form_submit_button("Save dataset", type="primary", icon=":material/save:")
    st.caption(
        "A dataset holds each kept run's conversation up to the judged answer, the answer, the verdict (the "
        "reviewers' majority, or a lead's adjudication), every vote with its tags, comment, rubric scores and "
        "correction, and the correction as `ideal`. Runs an open blind queue still needs votes on are left out."
    )
    if not saved:
        return
    try:
        made = datasets.create(
            store, name.strip(), verdict=verdict, filters=chosen, queue=queue or None, actor=_identity.actor()
        )
    except errors.DataLayerError as error:
        _shared.show_error(error)
        return
    _shared.wrote()
    st.success(
        f"Saved: dataset {made['name']} version {made['version']}, {runs(made['items'])}.",
        icon=":material/check_circle:",
    )


def snapshot_list(store, reader, may_save: bool) -> None:
    st.subheader("Snapshots")
    try:
        found = load_datasets(store, store.url, reader)
    except errors.DataLayerError as error:
        _shared.show_error(error)
        return
    if not found:
        st.info("No dataset yet. " + ("Save one above." if may_save else "An admin or a lead saves them."))
        return
    st.dataframe(
        {
            "name": [d["name"] for d in found],
            "version": [d["version"] for d in found],
            "runs": [d["items"] for d in found],
            "verdict rule": [d["verdict"] for d in found],
            "good": [d["counts"]["good"] for d in found],
            "bad": [d["counts"]["bad"] for d in found],
            "corrected": [d["counts"]["corrected"] for d in found],
            "queue": [d["queue"] or "" for d in found],
            "filters": [json.dumps(d["filters"], ensure_ascii=False) for d in found],
            "saved": [_shared.when(d["created_at"]) for d in found],
            "by": [d["created_by"] for d in found],
        },
        hide_index=True,
        width="stretch",
    )
    picked = st.selectbox(
        "Snapshot to download",
        range(len(found)),
        key="ds_pick",
        format_func=lambda i: f"{found[i]['name']} v{found[i]['version']} · {runs(found[i]['items'])}",
    )
    dataset = found[picked]
    for column, (fmt, label) in zip(st.columns(len(FILE_LABELS)), FILE_LABELS.items()):
        column.download_button(
            label,
            data=file_reader(store, reader, dataset, fmt),
            file_name=datasets.file_name(dataset, fmt),
            mime=datasets.MEDIA_TYPES[fmt],
            icon=":material/download:",
            on_click="ignore",
            key=f"ds_download_{fmt}",
            help=f"{dataset['files'][fmt]['bytes']:,} bytes, SHA-256 {dataset['files'][fmt]['sha256'][:12]}…",
        )


title, clear = st.columns([5, 1], vertical_alignment="bottom")
title.title("Datasets")
st.caption(
    "Evaluation datasets of reviewed runs: JSONL in the OpenAI chat shape (`messages`, `ideal`), Parquet for "
    "pandas or Hugging Face `datasets`, and a card. A saved version never changes."
)
current_store = _shared.store()
me = _identity.reader()
allowed = _identity.can("manage_datasets")
if allowed:
    _filters.clear_button(clear)
    save_form(current_store, me)
snapshot_list(current_store, me, allowed)
