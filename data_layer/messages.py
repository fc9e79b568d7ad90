"""How a run event becomes a message: event type names (old and new), LangChain dumps, message ids."""

from __future__ import annotations

import json
import re

from data_layer import rules

MESSAGE_ROLES = {
    "human_message": "human",
    "llm.human.input": "human",
    "ai_message": "ai",
    "ai_tool_call": "ai",
    "llm.ai.response": "ai",
    "tool_result": "tool",
    "llm.tool.result": "tool",
    "summary": "system",
}
_DUMP_ROLES = {
    "human": "human",
    "humanmessage": "human",
    "humanmessagechunk": "human",
    "ai": "ai",
    "aimessage": "ai",
    "aimessagechunk": "ai",
    "tool": "tool",
    "toolmessage": "tool",
    "toolmessagechunk": "tool",
    "system": "system",
    "systemmessage": "system",
}
_SAFE_ID = re.compile(rules.ID_PATTERN)


def category_of(event_type: str, given: str | None) -> str:
    """The category of an event: `message` for the message types, else what upstream said."""
    if event_type in MESSAGE_ROLES:
        return "message"
    if given:
        return given
    if event_type.startswith("middleware:"):
        return "middleware"
    if event_type.startswith(("run_", "run.")):
        return "lifecycle"
    return "trace"


def _unwrap(dump: dict) -> tuple[str | None, dict]:
    """A LangChain dump is either `{type, content, ...}` or the serialized `{lc, id: [..], kwargs}`."""
    if isinstance(dump.get("kwargs"), dict) and isinstance(dump.get("id"), list) and dump["id"]:
        return str(dump["id"][-1]), dump["kwargs"]
    kind = dump.get("type")
    return (kind if isinstance(kind, str) else None), dump


def _text_of(content) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and isinstance(block.get("text"), str):
                parts.append(block["text"])
        return "\n".join(parts)
    return json.dumps(content, ensure_ascii=False)


def _tool_calls(value) -> list[dict]:
    calls = []
    for call in value if isinstance(value, list) else []:
        if isinstance(call, dict):
            function = call.get("function")
            if not isinstance(function, dict):
                function = {}
            calls.append(
                {
                    "id": call.get("id"),
                    "name": call.get("name") or function.get("name"),
                    "args": call.get("args", function.get("arguments")),
                }
            )
    return calls


def parse(thread_id: str, seq: int, event_type: str, content) -> dict:
    """Split an event's content into role, display text, message id and tool calls.

    `content` is a plain string, a LangChain message dump (dict), or a string holding such a dump.
    """
    dump = content if isinstance(content, dict) else None
    if dump is None and isinstance(content, str) and content.lstrip().startswith("{"):
        try:
            loaded = json.loads(content)
        except ValueError:
            loaded = None
        if isinstance(loaded, dict) and ("content" in loaded or "kwargs" in loaded):
            dump = loaded
    role = MESSAGE_ROLES.get(event_type)
    if dump is None:
        return {
            "role": role,
            "text": content if isinstance(content, str) else _text_of(content),
            "message_id": f"{thread_id}:{seq}",
            "tool_calls": [],
            "tool_call_id": None,
            "name": None,
        }
    kind, body = _unwrap(dump)
    if kind and kind.lower() in _DUMP_ROLES:
        role = _DUMP_ROLES[kind.lower()]
    own_id = body.get("id")
    return {
        "role": role,
        "text": _text_of(body.get("content")),
        "message_id": own_id if isinstance(own_id, str) and _SAFE_ID.fullmatch(own_id) else f"{thread_id}:{seq}",
        "tool_calls": _tool_calls(body.get("tool_calls")),
        "tool_call_id": body.get("tool_call_id") if isinstance(body.get("tool_call_id"), str) else None,
        "name": body.get("name") if isinstance(body.get("name"), str) else None,
    }
