"""What every page shares: the store, who is signed in, cache invalidation, error display, and the
pieces the review pages draw alike (agent text shown safely, a conversation, vote controls).

Identity, in the order checked (docs/identity.md):
- `FEEDBACK_TRUSTED_HEADER` set: an authenticating proxy names the user in that request header;
- an `[auth]` table in the secrets: OpenID Connect sign-in through `st.login` / `st.user`;
- neither: local mode, one machine and one person, who is the admin and picks a name in the sidebar;
  served only to that machine (`data_layer.access`, checked first by `data_layer.gate`).
The role comes from the role rules (`data_layer.auth.RoleRules`); the data layer enforces it.

Pages only draw; anything they read or write goes through `data_layer`.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

import streamlit as st

import data_layer
from data_layer import access, auth, errors, rules
from data_layer.schema import REASON_TAGS
from pages._text import blocks, code, plain, safe_markdown

READ_TTL = 5  # seconds: other sessions' votes show within this; the writer's own clear at once
DEFAULT_REVIEWER = "local-reviewer"


def store() -> data_layer.Store:
    """The process's shared store; stops the page with a clear message when it cannot open."""
    try:
        return data_layer.shared_store()
    except errors.StoreUnavailable as error:
        st.error(f"The database cannot be opened: {plain(error)}", icon=":material/database:")
        st.stop()


def mode() -> str:
    """How this dashboard knows its users: "proxy", "oidc" or "local"."""
    if auth.trusted_header():
        return "proxy"
    if st.secrets.load_if_toml_exists() and "auth" in st.secrets:
        return "oidc"
    return "local"


def refusal(how: str) -> str | None:
    """Why this session gets no page at all, asked again here after the server's gate (`data_layer.gate`)."""
    if how == "local":
        if access.flag(access.REQUIRE_SIGNIN_VARIABLE):
            return access.SIGNIN_REQUIRED
        host = st.context.headers.get("host")  # None only without a browser (AppTest)
        return None if host is None else access.local_mode_refusal(host)
    if how == "proxy":
        # Streamlit reports a loopback peer as None; a session without a browser (AppTest) has no peer.
        peer = st.context.ip_address
        return access.proxy_refusal(peer if isinstance(peer, str) else "127.0.0.1")
    return None


@st.cache_resource(ttl=60, show_spinner=False)
def role_rules() -> auth.RoleRules:
    roles = st.secrets.get("roles") if st.secrets.load_if_toml_exists() else None
    return auth.configured_roles(roles_table=None if roles is None else roles.to_dict())


def actor() -> auth.Actor | None:
    """Who is using this session, with their role; None when sign-in is required and not done.

    `InvalidInput` for an id the data layer refuses (a bad local name, a header value or subject
    outside the id alphabet).
    """
    how = mode()
    if how == "local":
        name = (st.session_state.get("reviewer") or DEFAULT_REVIEWER).strip() or DEFAULT_REVIEWER
        return auth.Actor(name, auth.LOCAL_ROLE)
    if how == "proxy":
        email = st.context.headers.get(auth.trusted_header())
        if not email or refusal(how):
            return None
        groups_header = auth.trusted_groups_header()
        groups = st.context.headers.get(groups_header, "") if groups_header else ""
        return auth.signed_in(None, email, groups, role_rules())
    if not st.user.get("is_logged_in"):
        return None
    return auth.signed_in(
        st.user.get("sub"),
        st.user.get("email"),
        st.user.get("groups") or (),
        role_rules(),
        email_verified=st.user.get("email_verified"),
    )


def reviewer() -> str:
    """The current user's id, stored as `owner_id` on their votes (local mode: the sidebar name)."""
    if mode() == "local":
        return (st.session_state.get("reviewer") or DEFAULT_REVIEWER).strip() or DEFAULT_REVIEWER
    current = actor()
    return current.user_id if current else ""


def reader() -> auth.Actor | None:
    """The actor the data layer is asked to read for: the current user, or None when nobody is signed in.

    A local name the data layer refuses still reads as the local admin: a read stores no name, so the
    page shows what there is, and only a write (with `actor()`) says why it cannot be saved.
    """
    try:
        return actor()
    except errors.InvalidInput:
        return auth.Actor(DEFAULT_REVIEWER, auth.LOCAL_ROLE) if mode() == "local" else None


def can(action: str, target: dict | None = None) -> bool:
    """Whether the current user may take `action` (on the vote `target`, when given): `auth.can`, asked
    before drawing a control; the data layer asks `auth.authorize` again on every call."""
    return auth.can(reader(), action, target)


def wrote() -> None:
    """Call after every write: cached reads are dropped so the writer sees the change at once."""
    st.cache_data.clear()


def show_error(error: errors.DataLayerError) -> None:
    """One mapping from data-layer errors to what a reviewer sees."""
    message = plain(error)  # messages quote the values they refuse
    if isinstance(error, errors.InvalidInput):
        st.error(f"Not saved: {message}", icon=":material/error:")
    elif isinstance(error, errors.NotFound):
        st.warning(f"Not found: {message}", icon=":material/search_off:")
    elif isinstance(error, errors.Forbidden):
        st.error(f"Not allowed: {message}", icon=":material/block:")
    elif isinstance(error, errors.Unavailable):
        st.error(
            "Not saved: the database cannot store anything right now; what you entered is kept here, "
            f"try again in a moment. ({message})",
            icon=":material/database:",
        )
    elif isinstance(error, errors.Conflict):
        st.warning(
            f"Someone else changed this at the same moment; try again. ({message})", icon=":material/sync_problem:"
        )
    else:
        st.error(message, icon=":material/error:")


def frame() -> None:
    """Drawn on every page before the page itself: store status and the reviewer's identity."""
    how = mode()
    refused = refusal(how)
    if refused:
        st.error(plain(refused), icon=":material/lock:")
        st.stop()
    current = store()
    if current.seeded_demo is not None and not st.session_state.get("_demo_noted"):
        st.session_state["_demo_noted"] = True
        st.toast("The database was empty, so demo data was loaded (set FEEDBACK_DEMO=0 to turn this off).")
    if how != "local":
        _signed_in_gate(how)
    with st.sidebar:
        if how == "local":
            st.session_state.setdefault("reviewer", DEFAULT_REVIEWER)
            st.text_input(
                "Reviewer name",
                key="reviewer",
                help="Local mode: one machine, no sign-in. Your votes are stored under this name.",
            )
            try:
                rules.identifier(reviewer(), "reviewer name")
            except errors.InvalidInput as error:
                st.error(f"{plain(error)}. Votes cannot be saved under this name.", icon=":material/badge:")
            st.caption(f"Local mode, not signed in (you are the admin) · {plain(current.url)}")
        else:
            me = actor()
            via = "through the proxy" if how == "proxy" else "with single sign-on"
            st.markdown(f":material/account_circle: **{safe_markdown(me.user_id)}**", width="stretch")
            st.caption(f"Signed in {via} · role **{me.role}** · {plain(current.url)}")
            if how == "oidc":
                st.button("Sign out", icon=":material/logout:", on_click=st.logout, key="sign_out")
        if current.seeded_demo is not None:
            st.caption("Demo data loaded into an empty database.")


def _signed_in_gate(how: str) -> None:
    """Stop the page unless the user is known: a sign-in button (OIDC), or a clear error (proxy)."""
    try:
        me = actor()
    except errors.InvalidInput as error:
        st.error(f"Your identity cannot be used here: {plain(error)}", icon=":material/badge:")
        if how == "oidc":
            st.button("Sign out", icon=":material/logout:", on_click=st.logout)
        st.stop()
    if me is not None:
        return
    if how == "proxy":
        st.error(
            f"No user in the {auth.trusted_header()} header: this dashboard expects to be reached through "
            "its authenticating proxy.",
            icon=":material/lock:",
        )
        st.stop()
    st.title("Sign in")
    st.write("This dashboard records who gives each vote. Sign in with your organisation's account to continue.")
    st.button("Sign in", icon=":material/login:", type="primary", on_click=st.login, key="sign_in")
    st.stop()


# ---- agent content as data (the rule is pages/_text.py) -----------------------------------------


def agent_text(text: str | None) -> None:
    """Draw agent (or any outside) text: prose as safe markdown, fenced code as code blocks."""
    for block in blocks(text):
        if block.kind == "code":
            st.code(block.body, language=block.language, wrap_lines=True)
        else:
            st.markdown(block.body)


def short(identifier: str | None) -> str:
    return (identifier or "")[:8]


def when(iso: str | None) -> str:
    """An ISO timestamp from the data layer as a short UTC time for people."""
    if not iso:
        return "—"
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def thumb(rating: int | None) -> str:
    return {1: ":material/thumb_up:", -1: ":material/thumb_down:"}.get(rating, "—")


# ---- a conversation, grouped by run ------------------------------------------------------------


def duration(run: dict) -> str:
    if not run.get("created_at") or not run.get("updated_at"):
        return "—"
    seconds = (datetime.fromisoformat(run["updated_at"]) - datetime.fromisoformat(run["created_at"])).total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def run_header(run: dict, *, selected: bool = False) -> None:
    """Status, model, assistant, tokens, duration, follow-up link and error of one run."""
    icon = {"success": ":green", "error": ":red", "timeout": ":orange", "interrupted": ":gray"}.get(run["status"], "")
    status = f"{icon}[{run['status']}]" if icon else run["status"]
    marker = " · :blue-badge[selected]" if selected else ""
    st.markdown(f"**Run {code(short(run['run_id']))}** · {status}{marker}")
    facts = [
        f"model {code(run.get('model_name') or '—')}",
        f"assistant {code(run.get('assistant_id') or '—')}",
        f"{run.get('total_tokens') or 0:,} tokens ({run.get('total_input_tokens') or 0:,} in · "
        f"{run.get('total_output_tokens') or 0:,} out)",
        f"{duration(run)}",
        f"started {when(run.get('created_at'))}",
    ]
    st.caption(" · ".join(facts))
    if run.get("follow_up_to_run_id"):
        how = "detected" if run.get("follow_up_detected") else "given"
        st.caption(f"↪ follow-up to run {code(short(run['follow_up_to_run_id']))} ({how})")
    if run.get("error"):
        st.code(run["error"], language=None, wrap_lines=True)


def turns(messages: list[dict]) -> list[tuple[str, list[dict]]]:
    """Group a run's messages into chat turns: a human message alone, an ai message with the
    tool calls and tool results that follow it, a system message alone."""
    grouped: list[tuple[str, list[dict]]] = []
    for message in messages:
        role = message.get("role") or "system"
        if role == "tool" and grouped and grouped[-1][0] == "ai":
            grouped[-1][1].append(message)
        elif role == "ai" and grouped and grouped[-1][0] == "ai":
            grouped[-1][1].append(message)
        elif role == "tool":
            grouped.append(("ai", [message]))
        else:
            grouped.append((role, [message]))
    return grouped


def _tool_call(call: dict) -> None:
    with st.expander(f"Tool call · {plain(call.get('name') or 'tool')}", icon=":material/build:"):
        args = call.get("args")
        if isinstance(args, (dict, list)):
            st.code(json.dumps(args, indent=2, ensure_ascii=False), language="json", wrap_lines=True)
        else:
            st.code(str(args), language=None, wrap_lines=True)


def _tool_result(message: dict) -> None:
    with st.expander(f"Tool result · {plain(message.get('name') or 'tool')}", icon=":material/output:"):
        text = message.get("content") or ""
        try:
            body, language = json.dumps(json.loads(text), indent=2, ensure_ascii=False), "json"
        except ValueError:
            body, language = text, None
        st.code(body, language=language, wrap_lines=True)


def conversation(run: dict, messages: list[dict], *, votes: bool = True, show_system: bool = False) -> None:
    """One run's messages in seq order as chat turns, with vote controls under each ai answer."""
    if not messages:
        st.caption("No messages recorded for this run.")
    for role, group in turns(messages):
        if role == "human":
            with st.chat_message("human"):
                agent_text(group[0].get("content"))
        elif role == "ai":
            with st.chat_message("ai"):
                for message in group:
                    if message.get("role") == "tool":
                        _tool_result(message)
                        continue
                    if message.get("content"):
                        agent_text(message["content"])
                    for call in message.get("tool_calls") or []:
                        _tool_call(call)
                    if votes and message.get("content"):
                        feedback_panel(run["thread_id"], run["run_id"], message.get("message_id"))
        elif show_system:
            with st.chat_message("system", avatar=":material/settings:"):
                st.caption(f"{plain(group[0].get('event_type'))} (system)")
                agent_text(group[0].get("content"))


def trace(events: list[dict]) -> None:
    """The non-message events of a run (lifecycle, trace, middleware) as a plain table."""
    rows = [
        {
            "seq": event["seq"],
            "category": event["category"],
            "event": event["event_type"],
            "content": (event.get("content") or "")[:500],
            "metadata": json.dumps(event.get("metadata"), ensure_ascii=False) if event.get("metadata") else "",
            "at": event.get("created_at"),
        }
        for event in events
        if event["category"] != "message"
    ]
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch")
    else:
        st.caption("No trace or lifecycle events for this run.")


# ---- vote controls -------------------------------------------------------------------------------


def _keys(run_id: str, message_id: str | None) -> dict[str, str]:
    base = f"fb|{reviewer()}|{run_id}|{message_id or ''}"
    return {name: f"{base}|{name}" for name in ("thumb", "comment", "tags", "error", "toast")}


def panel_key(run_id: str, message_id: str | None) -> str:
    """The CSS-safe key of a vote panel's container (`.st-key-...` in the page)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"fb-{run_id}-{message_id or 'run'}")


def _save(keys: dict, thread_id: str, run_id: str, message_id: str | None, *, retract: bool = False) -> None:
    """Write the reviewer's vote from the widgets' state; errors are kept for the panel to show,
    and nothing the reviewer typed is cleared."""
    state = st.session_state
    value = None if retract else state.get(keys["thumb"])
    target = "message" if message_id else "run"
    try:
        me = actor()
        if value is None:
            removed = store().feedback.retract(thread_id=thread_id, run_id=run_id, message_id=message_id, actor=me)
            if retract:
                state[keys["thumb"]] = None
            state[keys["toast"]] = f"Your vote on this {target} was retracted." if removed else "You had no vote here."
        else:
            rating = 1 if value == 1 else -1
            store().feedback.upsert(
                thread_id=thread_id,
                run_id=run_id,
                message_id=message_id,
                rating=rating,
                comment=state.get(keys["comment"]) or None,
                tags=list(state.get(keys["tags"]) or []) if rating == -1 else [],
                actor=me,
            )
            state[keys["toast"]] = f"Saved {thumb(rating)} on this {target}."
        state.pop(keys["error"], None)
        wrote()
    except errors.DataLayerError as error:
        state[keys["error"]] = error


def _delete(keys: dict, vote: dict) -> None:
    """An admin removes someone else's vote (its history stays in the audit trail)."""
    try:
        store().feedback.delete(vote["feedback_id"], thread_id=vote["thread_id"], run_id=vote["run_id"], actor=actor())
        st.session_state[keys["toast"]] = f"Deleted the vote of {plain(vote['owner_id'] or 'anonymous')}."
        st.session_state.pop(keys["error"], None)
        wrote()
    except errors.DataLayerError as error:
        st.session_state[keys["error"]] = error


def _save_comment(keys: dict, thread_id: str, run_id: str, message_id: str | None) -> None:
    if st.session_state.get(keys["thumb"]) is None:
        st.session_state[keys["error"]] = errors.InvalidInput(
            "choose thumbs up or down first: a comment belongs to a vote"
        )
        return
    _save(keys, thread_id, run_id, message_id)


def feedback_panel(thread_id: str, run_id: str, message_id: str | None = None) -> None:
    """Thumbs, comment and reasons for one run (or one ai message of it), the reviewer's own vote
    and everyone else's. A fragment: voting reruns only this panel."""
    with st.container(key=panel_key(run_id, message_id)):
        _panel(thread_id, run_id, message_id)


@st.fragment
def _panel(thread_id: str, run_id: str, message_id: str | None) -> None:
    me = reviewer()
    keys = _keys(run_id, message_id)
    try:
        votes = [
            vote
            for vote in store().feedback.list_by_run(thread_id, run_id, actor=reader())
            if (vote.get("message_id") or None) == (message_id or None)
        ]
    except errors.DataLayerError as error:
        show_error(error)
        return
    mine = next((vote for vote in votes if vote["owner_id"] == me), None)
    others = [vote for vote in votes if vote["owner_id"] != me]
    state = st.session_state
    if keys["toast"] in state:
        # toasts from the callback itself would be drawn outside the fragment
        st.toast(state.pop(keys["toast"]), icon=":material/check:")
    if keys["thumb"] not in state:
        state[keys["thumb"]] = None if mine is None else (1 if mine["rating"] == 1 else 0)
    if keys["comment"] not in state:
        state[keys["comment"]] = (mine or {}).get("comment") or ""
    if keys["tags"] not in state:
        state[keys["tags"]] = list((mine or {}).get("tags") or [])
    args = (keys, thread_id, run_id, message_id)
    target = "message" if message_id else "run"
    voter = can("vote")
    with st.container(horizontal=True, vertical_alignment="center", key=f"vote-{run_id}-{message_id or 'run'}"):
        st.caption(f"Your vote on this {target}:" if voter else "Viewers cannot vote.")
        st.feedback("thumbs", key=keys["thumb"], on_change=_save, args=args, disabled=not voter)
        if mine:
            tags = f" · {plain(', '.join(mine['tags']))}" if mine.get("tags") else ""
            st.caption(f"saved {thumb(mine['rating'])} {when(mine['updated_at'])}{tags}")
        elif voter:
            st.caption("not voted yet")
        if others:
            up = sum(vote["rating"] == 1 for vote in others)
            st.caption(f"others: {up} {thumb(1)} · {len(others) - up} {thumb(-1)}")
    if keys["error"] in state:
        show_error(state[keys["error"]])
    title = f"Comment, reasons and other votes ({len(others)})" if voter else f"Votes ({len(others)})"
    with st.expander(title, expanded=keys["error"] in state):
        if voter:
            st.text_area("Comment (optional)", key=keys["comment"], max_chars=rules.MAX_COMMENT, height=80)
            if state.get(keys["thumb"]) == 0:
                st.multiselect("Reasons for the thumbs-down", REASON_TAGS, key=keys["tags"])
            with st.container(horizontal=True):
                st.button("Save comment", key=f"{keys['comment']}|save", on_click=_save_comment, args=args)
                st.button(
                    "Retract my vote",
                    key=f"{keys['thumb']}|retract",
                    on_click=_save,
                    args=args,
                    kwargs={"retract": True},
                    disabled=mine is None,
                )
        for vote in others:
            tags = f" · {plain(', '.join(vote['tags']))}" if vote.get("tags") else ""
            source = " (end user)" if vote.get("source") == "end_user" else ""
            with st.container(horizontal=True, vertical_alignment="center"):
                st.markdown(
                    f"{thumb(vote['rating'])} **{plain(vote['owner_id'] or 'anonymous')}**{source} · "
                    f"{when(vote['updated_at'])}{tags}"
                )
                if can("delete", vote):
                    st.button(
                        "Delete",
                        icon=":material/delete:",
                        type="tertiary",
                        key=f"{keys['thumb']}|delete|{vote['feedback_id']}",
                        on_click=_delete,
                        args=(keys, vote),
                        help="Admins may delete anyone's vote; its history stays in the audit trail.",
                    )
            if vote.get("comment"):
                st.markdown(f"> {safe_markdown(vote['comment'])}".replace("\n", "\n> "))
