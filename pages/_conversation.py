"""One run drawn for review: its header (status, model, tokens, duration, follow-up, error), its
messages as chat turns with tool calls and results, its trace events, and agent text drawn through
the rendering rule of `pages/_text.py`. Vote controls under each ai answer come from `pages/_votes.py`.
"""

from __future__ import annotations

import json
from datetime import datetime

import streamlit as st

from pages._shared import short, when
from pages._text import blocks, code, plain
from pages._votes import feedback_panel


def agent_text(text: str | None) -> None:
    """Draw agent (or any outside) text: prose as safe markdown, fenced code as code blocks."""
    for block in blocks(text):
        if block.kind == "code":
            st.code(block.body, language=block.language, wrap_lines=True)
        else:
            st.markdown(block.body)


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
                        feedback_panel(
                            run["thread_id"], run["run_id"], message.get("message_id"), answer=message["content"]
                        )
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
