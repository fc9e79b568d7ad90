"""The validation rules every input passes, whichever door it came through (UI, API, import).

Each checker returns the clean value or raises `InvalidInput` naming the field and the reason.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import UTC, datetime

from data_layer.errors import InvalidInput
from data_layer.schema import FEEDBACK_SOURCES, REASON_TAGS, RUN_STATUSES

MAX_COMMENT = 10_000
MAX_CONTENT = 1_000_000
MAX_TEXT = 100_000
MAX_JSON_BYTES = 1_000_000
MAX_JSON_DEPTH = 32
MAX_SEQ = 2**53
# Ids end up in URL paths and file names: keep them to a safe alphabet.
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:@+=~|-]{0,199}"
_ID = re.compile(ID_PATTERN)
# A vote imported without an id gets a uuid5 of its own fields in this namespace, so that importing the
# same file again finds the same row (ingest/records.py in Python, ingest/fast.py in SQL).
FEEDBACK_NAMESPACE = uuid.UUID("6f1d9a52-3c1e-4f7a-9a37-0b1f6f3f0e11")
# What the audit trail records of a vote (a CHECK of `feedback_audit.action` in data_layer/schema.py).
AUDIT_ACTIONS = ("create", "update", "retract", "delete")
# Times outside [EARLIEST, LATEST) are typos or epoch-unit mistakes, refused.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def rating(value) -> int:
    # bool is an int in Python, and 1.0 == 1: both must be refused, as upstream does.
    if type(value) is not int or value not in (1, -1):
        raise InvalidInput(f"rating must be 1 or -1, got {value!r}")
    return value


def tags(value) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise InvalidInput(f"tags must be a list, got {type(value).__name__}")
    clean: list[str] = []
    for tag in value:
        if tag not in REASON_TAGS:
            raise InvalidInput(f"unknown tag {tag!r}; allowed: {', '.join(REASON_TAGS)}")
        if tag not in clean:
            clean.append(tag)
    return clean


def comment(value) -> str | None:
    if value is None:
        return None
    value = text(value, "comment", MAX_COMMENT)
    return value if value.strip() else None


def identifier(value, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, got {type(value).__name__}")
    if not _ID.fullmatch(value):
        raise InvalidInput(
            f"{field} {value[:60]!r} is not a valid id (1-200 characters: letters, digits and ._:@+=~|-)"
        )
    return value


def optional_identifier(value, field: str) -> str | None:
    return None if value is None else identifier(value, field)


def text(value, field: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidInput(f"{field} is too long ({len(value):,} characters, at most {limit:,})")
    if "\x00" in value:
        raise InvalidInput(f"{field} contains a NUL byte")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidInput(f"{field} is not valid Unicode text (lone surrogate)") from error
    return value


def optional_text(value, field: str, limit: int = MAX_TEXT) -> str | None:
    return None if value is None else text(value, field, limit)


def integer(value, field: str, *, low: int = 0, high: int = MAX_SEQ) -> int:
    if type(value) is not int:
        raise InvalidInput(f"{field} must be an integer, got {value!r:.60}")
    if not low <= value <= high:
        raise InvalidInput(f"{field} {value} is out of range ({low}..{high})")
    return value


def optional_integer(value, field: str) -> int | None:
    return None if value is None else integer(value, field, high=2**62)


def run_status(value) -> str:
    if value not in RUN_STATUSES:
        raise InvalidInput(f"status {value!r:.60} is not one of {', '.join(RUN_STATUSES)}")
    return value


def source(value) -> str:
    if value not in FEEDBACK_SOURCES:
        raise InvalidInput(f"source {value!r:.60} is not one of {', '.join(FEEDBACK_SOURCES)}")
    return value


def audit_action(value) -> str:
    if value not in AUDIT_ACTIONS:
        raise InvalidInput(f"action {str(value)[:40]!r} is not one of {', '.join(AUDIT_ACTIONS)}")
    return value


def timestamp(value, field: str) -> datetime:
    """An ISO-8601 string or epoch seconds; naive times are taken as UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError as error:
            raise InvalidInput(f"{field} {value[:40]!r} is not an ISO-8601 timestamp") from error
    elif type(value) in (int, float):
        if not math.isfinite(value) or not 0 <= value < 7_258_118_400:
            raise InvalidInput(f"{field} {value!r} is out of range")
        moment = datetime.fromtimestamp(value, tz=UTC)
    else:
        raise InvalidInput(f"{field} must be an ISO-8601 string or epoch seconds, got {type(value).__name__}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if not EARLIEST <= moment < LATEST:
        raise InvalidInput(f"{field} {value!r:.40} is out of range (1970..2199)")
    return moment


def json_object(value, field: str) -> str | None:
    """A JSON object (or null), checked for depth and size, returned as JSON text."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} must be a JSON object, got {type(value).__name__}")
    return json_text(value, field)


def json_text(value, field: str) -> str:
    _check_depth(value, field, 0)
    try:
        encoded = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"{field} is not valid JSON: {error}") from error
    if len(encoded) > MAX_JSON_BYTES:
        raise InvalidInput(f"{field} is too large ({len(encoded):,} characters of JSON)")
    return text(encoded, field, MAX_JSON_BYTES)


def _check_depth(value, field: str, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise InvalidInput(f"{field} is nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for item in value.values():
            _check_depth(item, field, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_depth(item, field, depth + 1)
