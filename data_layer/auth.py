"""Who may do what: actors and roles, the one authorization rule, and the REST API's tokens.

Every door (REST API, pages) asks `authorize(actor, action, feedback)` before a feedback write,
so the rules live here once:

- `admin`: read, vote, retract and delete its own votes, delete anyone's vote, ingest, audit;
- `reviewer`: read, vote, retract and delete only its own votes;
- `viewer`: read only;
- `end_user` (an API-only extension for the agent's chat front end): vote, retract and delete
  only its own votes, stored with source `end_user`; it cannot read others' feedback, which may
  hold reviewers' internal comments.

API tokens are configured as `FEEDBACK_API_TOKENS` (environment, else `.streamlit/secrets.toml`):
comma-separated `user:role:sha256hex`, or `user:sha256hex` for a reviewer. Only the SHA-256 of a
token is ever configured or kept; the plain token exists only in the caller's hands.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

from data_layer import rules
from data_layer.errors import Forbidden, InvalidInput

ROLES = ("admin", "reviewer", "viewer", "end_user")
DEFAULT_ROLE = "reviewer"
ACTIONS = ("read", "vote", "retract", "delete", "ingest", "audit")

_ALLOWED = {
    "admin": frozenset(ACTIONS),
    "reviewer": frozenset({"read", "vote", "retract", "delete"}),
    "viewer": frozenset({"read"}),
    "end_user": frozenset({"vote", "retract", "delete"}),
}
# Actions on one vote that only its owner may take; an admin may also delete anyone's vote.
_OWN_ONLY = frozenset({"vote", "retract", "delete"})
_HEX = re.compile(r"[0-9a-f]{64}")
TOKENS_VARIABLE = "FEEDBACK_API_TOKENS"
SECRETS_FILES = (Path(".streamlit/secrets.toml"), Path.home() / ".streamlit" / "secrets.toml")


@dataclass(frozen=True)
class Actor:
    """A known caller: the user id stored as `owner_id` on its votes, and its role."""

    user_id: str
    role: str = DEFAULT_ROLE

    def __post_init__(self):
        rules.identifier(self.user_id, "user")
        if self.role not in ROLES:
            raise InvalidInput(f"role {self.role!r:.40} is not one of {', '.join(ROLES)}")

    @property
    def source(self) -> str:
        """The `source` recorded on this actor's votes: end users' thumbs are kept apart from reviews."""
        return "end_user" if self.role == "end_user" else "reviewer"


def authorize(actor: Actor | None, action: str, feedback: dict | None = None) -> None:
    """Raise `Forbidden` unless `actor` may take `action` (on the vote `feedback`, when given)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if actor is None:
        raise Forbidden(f"an unknown caller may not {action}")
    if action not in _ALLOWED[actor.role]:
        raise Forbidden(f"{actor.user_id} ({actor.role}) may not {action}")
    if feedback is None or action not in _OWN_ONLY or feedback.get("owner_id") == actor.user_id:
        return
    if action == "delete" and actor.role == "admin":
        return
    raise Forbidden(
        f"{actor.user_id} ({actor.role}) may not {action} feedback {feedback.get('feedback_id')} of another user"
    )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def token_entry(user_id: str, role: str, token: str) -> str:
    """The `FEEDBACK_API_TOKENS` entry for a token: `user:role:sha256hex`."""
    actor = Actor(user_id, role)
    return f"{actor.user_id}:{actor.role}:{hash_token(token)}"


def parse_tokens(entries: str | list[str]) -> dict[str, Actor]:
    """`{sha256hex: Actor}` from the configured entries; `InvalidInput` naming the first bad one."""
    if isinstance(entries, str):
        entries = entries.split(",")
    table: dict[str, Actor] = {}
    for position, raw in enumerate(entries, start=1):
        if not isinstance(raw, str):
            raise InvalidInput(f"{TOKENS_VARIABLE} entry {position} is not a string")
        entry = raw.strip()
        if not entry:
            continue
        parts = entry.rsplit(":", 2)
        if len(parts) == 2:
            user, role, digest = parts[0], DEFAULT_ROLE, parts[1]
        elif len(parts) == 3:
            user, role, digest = parts
        else:
            raise InvalidInput(f"{TOKENS_VARIABLE} entry {position} is not user:role:sha256hex")
        digest = digest.strip().lower()
        if not _HEX.fullmatch(digest):
            raise InvalidInput(
                f"{TOKENS_VARIABLE} entry {position} ({user[:40]}) does not end in a SHA-256 hex digest"
                " (64 hex digits; the plain token is never configured)"
            )
        try:
            actor = Actor(user.strip(), role.strip())
        except InvalidInput as error:
            raise InvalidInput(f"{TOKENS_VARIABLE} entry {position}: {error}") from None
        if digest in table:
            raise InvalidInput(f"{TOKENS_VARIABLE} entry {position} repeats the token of {table[digest].user_id}")
        table[digest] = actor
    return table


def configured_tokens(secrets_files=SECRETS_FILES) -> dict[str, Actor]:
    """The token table from the environment, else from the first secrets file that sets it."""
    value = os.environ.get(TOKENS_VARIABLE, "")
    if value.strip():
        return parse_tokens(value)
    for path in secrets_files:
        try:
            with open(path, "rb") as stream:
                data = tomllib.load(stream)
        except FileNotFoundError:
            continue
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise InvalidInput(f"{path}: cannot be read ({error})") from error
        if TOKENS_VARIABLE in data:
            entries = data[TOKENS_VARIABLE]
            if not isinstance(entries, (str, list)):
                raise InvalidInput(f"{path}: {TOKENS_VARIABLE} must be a string or a list of strings")
            return parse_tokens(entries)
    return {}


def authenticate(token: str | None, table: dict[str, Actor]) -> Actor | None:
    """The actor a presented token belongs to, or None."""
    if not token:
        return None
    return table.get(hash_token(token))
