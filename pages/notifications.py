"""Notifications (admins only): where events go, and did they arrive?

Destinations are signed webhooks (any event kind) or apprise chat and mail targets (alerts); the delivery
log shows each event to each destination, every attempt of one, and sends one again. The data layer refuses
everything here to anyone without the `manage_notifications` action; this page says so before asking.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from data_layer import errors
from data_layer.notify import EVENT_KINDS
from pages import _identity, _shared, _text

LOG_SIZE = 100

st.title("Notifications")
if not _identity.can("manage_notifications"):
    st.warning("Admins only: notifications send votes and alerts to other systems. Ask an admin if you need one.")
    st.stop()

store = _shared.store()
state = st.session_state


def _actor():
    try:
        return _identity.actor()
    except errors.InvalidInput as error:
        _shared.show_error(error)
        st.stop()


def _filter_values(prefix: str) -> dict:
    return {
        "assistant_id": (state.get(f"{prefix}_assistant") or "").strip() or None,
        "model_name": (state.get(f"{prefix}_model") or "").strip() or None,
        "source": state.get(f"{prefix}_source"),
    }


st.subheader("Destinations")
with st.expander("Add a webhook", icon=":material/webhook:"):
    with st.form("nt_webhook", clear_on_submit=False, border=False):
        st.text_input("URL", key="nt_url", placeholder="https://hooks.example.com/feedback")
        st.multiselect("Events", EVENT_KINDS, default=list(EVENT_KINDS), key="nt_events")
        with st.container(horizontal=True):
            st.text_input("Only assistant", key="nt_assistant", width=200)
            st.text_input("Only model", key="nt_model", width=200)
            st.selectbox("Only source", ("reviewer", "end_user"), index=None, key="nt_source", width=160)
        st.checkbox(
            "Allow a private, loopback or link-local address (a receiver inside this network)",
            key="nt_private",
            help="Off, a URL whose host resolves to such an address, or to this dashboard's host, is refused.",
        )
        add_webhook = st.form_submit_button("Add webhook", icon=":material/add:")
    if add_webhook:
        try:
            added = store.notify.add_webhook(
                state.get("nt_url") or "",
                events=state.get("nt_events") or (),
                allow_private=bool(state.get("nt_private")),
                actor=_actor(),
                **_filter_values("nt"),
            )
        except errors.DataLayerError as error:
            _shared.show_error(error)
        else:
            _shared.wrote()
            st.success(
                f"Saved: destination {added['destination_id']}. Its signing secret, shown only now: give it to the "
                "receiver, which verifies the webhook-signature header with it (Standard Webhooks).",
                icon=":material/key:",
            )
            st.code(added["secret"], language=None)

with st.expander("Add a chat or mail target for alerts (apprise)", icon=":material/campaign:"):
    with st.form("nt_apprise", border=False):
        st.text_input("Apprise URL", key="nt_apprise_url", placeholder="slack://TokenA/TokenB/TokenC", type="password")
        st.text_input("Only assistant", key="na_assistant", width=200)
        st.checkbox("Allow a private, loopback or link-local address", key="na_private")
        add_apprise = st.form_submit_button("Add target", icon=":material/add:")
    if add_apprise:
        try:
            added = store.notify.add_apprise(
                state.get("nt_apprise_url") or "",
                assistant_id=(state.get("na_assistant") or "").strip() or None,
                allow_private=bool(state.get("na_private")),
                actor=_actor(),
            )
        except errors.DataLayerError as error:
            _shared.show_error(error)
        else:
            _shared.wrote()
            st.success(f"Saved: destination {added['destination_id']} gets the alerts.", icon=":material/check:")

try:
    destinations = store.notify.destinations(actor=_identity.reader())
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()

if not destinations:
    st.info("No destinations: nothing is sent. Add a webhook or an apprise target above.", icon=":material/info:")
else:
    st.dataframe(
        [
            {
                "id": row["destination_id"],
                "kind": row["kind"],
                "URL": row["url"],
                "events": ", ".join(row["events"]),
                "filter": ", ".join(f"{key}={row[key]}" for key in ("assistant_id", "model_name", "source") if row[key])
                or "—",
                "private allowed": row["allow_private"],
                "added": datetime.fromisoformat(row["created_at"]),
                "by": row["created_by"],
            }
            for row in destinations
        ],
        hide_index=True,
        width="stretch",
        column_config={"added": st.column_config.DatetimeColumn("added (UTC)", format="YYYY-MM-DD HH:mm")},
    )
    with st.container(horizontal=True, vertical_alignment="bottom"):
        ids = [row["destination_id"] for row in destinations]
        st.selectbox("Destination", ids, key="nt_remove_id", width=160)
        if st.button("Remove", icon=":material/delete:", key="nt_remove"):
            try:
                store.notify.remove(state.get("nt_remove_id"), actor=_actor())
            except errors.DataLayerError as error:
                _shared.show_error(error)
            else:
                _shared.wrote()
                st.rerun()

st.subheader("Delivery log")
with st.container(horizontal=True, vertical_alignment="bottom"):
    st.selectbox(
        "Status", ("pending", "delivered", "failed"), index=None, placeholder="any", key="nt_status", width=160
    )
    st.caption(f"The newest {LOG_SIZE} deliveries: each event to each destination.")
try:
    log = store.notify.deliveries(actor=_identity.reader(), status=state.get("nt_status"), limit=LOG_SIZE)
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()

if not log:
    st.info("Nothing delivered or waiting.", icon=":material/outbox:")
    st.stop()

shown = st.dataframe(
    [
        {
            "delivery": row["delivery_id"],
            "event": row["kind"],
            "to": row["destination_id"],
            "status": row["status"],
            "attempts": row["attempts"],
            "last answer": row["last_status"],
            "last error": row["last_error"] or "",
            "created": datetime.fromisoformat(row["created_at"]),
        }
        for row in log
    ],
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key="nt_log",
    column_config={"created": st.column_config.DatetimeColumn("created (UTC)", format="YYYY-MM-DD HH:mm:ss")},
)
rows = shown.selection.rows if shown else []
if not rows:
    st.caption("Select a delivery to see each attempt, and to send it again.")
    st.stop()

chosen = log[rows[0]]
st.markdown(f"**Delivery {chosen['delivery_id']}** · event {_text.code(chosen['event_id'])} · {chosen['status']}")
try:
    attempts = store.notify.attempts(chosen["delivery_id"], actor=_identity.reader())
except errors.DataLayerError as error:
    _shared.show_error(error)
    st.stop()
st.dataframe(
    [
        {
            "when": datetime.fromisoformat(row["attempted_at"]),
            "answer": row["status_code"],
            "error": row["error"] or "",
            "took (ms)": round(row["duration_ms"]),
            "sender": row["sender"],
        }
        for row in attempts
    ],
    hide_index=True,
    width="stretch",
    column_config={"when": st.column_config.DatetimeColumn("when (UTC)", format="YYYY-MM-DD HH:mm:ss")},
)
if st.button("Send again", icon=":material/send:", key="nt_again"):
    try:
        store.notify.send_again(chosen["delivery_id"], actor=_actor())
    except errors.DataLayerError as error:
        _shared.show_error(error)
    else:
        _shared.wrote()
        st.success(f"Delivery {chosen['delivery_id']} is in line again; the sender takes it within seconds.")
