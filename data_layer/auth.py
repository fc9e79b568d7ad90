"""Who may do what: actors and roles, the one authorization rule, and the REST API's tokens.

Every operation of the store that reads or changes people's data (votes, comments, reviewer
identities, queue claims, the audit trail, imports and exports) takes an `Actor` and asks
`authorize(actor, action, target)` itself, so the rules live here once and no door (pages, REST
API, CLI) can skip them. `PERMISSIONS` is the whole table, action by action; docs/identity.md
shows it and a test walks every cell of it through the data layer and the API:

- `admin`: read, vote, retract and delete its own votes, delete anyone's vote, work the review
  queue, ingest, audit, back up, manage queues, adjudicate, manage notifications;
- `lead`: everything a reviewer may, plus settle the queues' disputed items (`adjudicate`) and see
  every reviewer's progress (`view_progress`: who is behind);
- `reviewer`: read, vote, retract and delete only its own votes, work the review queue; of a
  queue's progress it sees its own row and the totals;
- `viewer`: read only;
- `end_user` (an API-only extension for the agent's chat front end): vote, retract and delete
  only its own votes, stored with source `end_user`, and only on threads it owns (the gateway's
  thread `owner_id`); it cannot read feedback, which may hold reviewers' internal comments;
- `judge` (an API-only role for an LLM judge's scorer): give verdicts as that judge alone (its user id
  is the judge's name and version), kept apart from people's votes (`data_layer.judges`); it reads nothing;
- `system` (`SYSTEM`, the one actor of this role): the command line, imports, the demo data and
  tests; it acts in anyone's name, and the audit trail names it as `system`. No token and no
  sign-in can carry this role.

`may_act_on_thread` and `hides` say what a caller may know exists: a thread it may not act on is
answered as a missing one, and a vote it may not read as a missing vote.

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

ROLES = ("admin", "lead", "reviewer", "viewer", "end_user", "judge", "system")
# The roles a token may carry: the system's role belongs to this process alone.
TOKEN_ROLES = ("admin", "lead", "reviewer", "viewer", "end_user", "judge")
DEFAULT_ROLE = "reviewer"
SYSTEM_ID = "system"

# A grant on an action: "yes" on any vote, "own" on the actor's own votes only (an own-only grant
# matters when a vote is named; actions that name none treat it as "yes").
YES, OWN = "yes", "own"
PERMISSIONS: dict[str, dict[str, str]] = {
    "read": {"admin": YES, "lead": YES, "reviewer": YES, "viewer": YES, "system": YES},
    "vote": {"admin": OWN, "lead": OWN, "reviewer": OWN, "end_user": OWN, "system": YES},
    "retract": {"admin": OWN, "lead": OWN, "reviewer": OWN, "end_user": OWN, "system": YES},
    "delete": {"admin": YES, "lead": OWN, "reviewer": OWN, "end_user": OWN, "system": YES},
    "queue": {"admin": YES, "lead": YES, "reviewer": YES, "system": YES},
    "ingest": {"admin": YES, "system": YES},
    "audit": {"admin": YES, "system": YES},
    "backup": {"admin": YES, "system": YES},
    "manage_queues": {"admin": YES, "system": YES},
    "adjudicate": {"admin": YES, "lead": YES, "system": YES},
    "view_progress": {"admin": YES, "lead": YES, "system": YES},
    "manage_notifications": {"admin": YES, "system": YES},
    "manage_datasets": {"admin": YES, "lead": YES, "system": YES},
    "judge": {"judge": OWN, "system": YES},
}
ACTIONS = tuple(PERMISSIONS)
# Roles that act only on the threads they own: an end user thumbs its own conversations, never
# another user's, nor a thread without an owner.
_OWN_THREADS_ONLY = frozenset({"end_user"})
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
        # The audit trail tells the system from people by this id and role: neither goes without the other.
        if (self.role == "system") != (self.user_id == SYSTEM_ID):
            raise InvalidInput(f"the user id {SYSTEM_ID!r} and the role 'system' belong to the system actor alone")

    @property
    def source(self) -> str:
        """The `source` recorded on this actor's votes: end users' thumbs are kept apart from reviews."""
        return "end_user" if self.role == "end_user" else "reviewer"


SYSTEM = Actor(SYSTEM_ID, "system")


def allowed(role: str) -> frozenset[str]:
    """The actions a role may take at all (on its own votes, for the actions limited to owners)."""
    return frozenset(action for action, grants in PERMISSIONS.items() if role in grants)


def authorize(actor: Actor | None, action: str, target: dict | None = None) -> None:
    """Raise `Forbidden` unless `actor` may take `action` (on the vote `target`, when given)."""
    if action not in PERMISSIONS:
        raise ValueError(f"unknown action {action!r}")
    if actor is None:
        raise Forbidden(f"an unknown caller may not {action}")
    grant = PERMISSIONS[action].get(actor.role)
    if grant is None:
        raise Forbidden(f"{actor.user_id} ({actor.role}) may not {action}")
    if grant == OWN and target is not None and target.get("owner_id") != actor.user_id:
        raise Forbidden(
            f"{actor.user_id} ({actor.role}) may not {action} feedback {target.get('feedback_id')} of another user"
        )


def can(actor: Actor | None, action: str, target: dict | None = None) -> bool:
    """Whether `authorize` lets `actor` take `action` (on `target`): what a page asks before drawing a control."""
    try:
        authorize(actor, action, target)
    except Forbidden:
        return False
    return True


def acts_for_anyone(actor: Actor, action: str) -> bool:
    """Whether `actor` may take `action` in another user's name: a "yes" grant, not "own" (for a vote or
    a retraction, only the system, writing a script's votes); everyone else acts only as itself."""
    return PERMISSIONS[action].get(actor.role) == YES


def acts_on_every_thread(actor: Actor) -> bool:
    """Whether `actor` may act on any thread, whoever owns it."""
    return actor.role not in _OWN_THREADS_ONLY


def may_act_on_thread(actor: Actor, owner_id: str | None) -> bool:
    """Whether `actor` may act on a thread owned by `owner_id`."""
    if acts_on_every_thread(actor):
        return True
    return owner_id is not None and owner_id == actor.user_id


def hides(actor: Actor, feedback: dict) -> bool:
    """Whether the vote `feedback` is hidden from `actor`: a caller who may not read sees only its own votes."""
    if "read" in allowed(actor.role):
        return False
    return feedback.get("owner_id") != actor.user_id


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def token_entry(user_id: str, role: str, token: str) -> str:
    """The `FEEDBACK_API_TOKENS` entry for a token: `user:role:sha256hex`."""
    actor = _token_actor(user_id, role)
    return f"{actor.user_id}:{actor.role}:{hash_token(token)}"


def _token_actor(user_id: str, role: str) -> Actor:
    if role not in TOKEN_ROLES:
        raise InvalidInput(f"role {role!r:.40} is not one of {', '.join(TOKEN_ROLES)}")
    return Actor(user_id, role)


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
            actor = _token_actor(user.strip(), role.strip())
        except InvalidInput as error:
            raise InvalidInput(f"{TOKENS_VARIABLE} entry {position}: {error}") from None
        if digest in table:
            raise InvalidInput(f"{TOKENS_VARIABLE} entry {position} repeats the token of {table[digest].user_id}")
        table[digest] = actor
    return table


def secret(key: str, secrets_files=SECRETS_FILES):
    """A top-level value of the first secrets file that sets `key` (read with tomllib: no Streamlit here)."""
    for path in secrets_files:
        try:
            with open(path, "rb") as stream:
                data = tomllib.load(stream)
        except FileNotFoundError:
            continue
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise InvalidInput(f"{path}: cannot be read ({error})") from error
        if key in data:
            return data[key]
    return None


def configured_tokens(secrets_files=SECRETS_FILES) -> dict[str, Actor]:
    """The token table from the environment, else from the first secrets file that sets it."""
    value = os.environ.get(TOKENS_VARIABLE, "")
    if value.strip():
        return parse_tokens(value)
    entries = secret(TOKENS_VARIABLE, secrets_files)
    if entries is None:
        return {}
    if not isinstance(entries, (str, list)):
        raise InvalidInput(f"secrets: {TOKENS_VARIABLE} must be a string or a list of strings")
    return parse_tokens(entries)


def authenticate(token: str | None, table: dict[str, Actor]) -> Actor | None:
    """The actor a presented token belongs to, or None."""
    if not token:
        return None
    return table.get(hash_token(token))


ROLES_VARIABLE = "FEEDBACK_ROLES"
# Highest first: when several rules match a user, the first role of this order wins.
SIGNIN_ROLES = ("admin", "lead", "reviewer", "viewer")


@dataclass(frozen=True)
class RoleRules:
    """Who gets which role when signing in: lists of emails, `*@domain` or `group:NAME` per role."""

    admin: tuple[str, ...] = ()
    lead: tuple[str, ...] = ()
    reviewer: tuple[str, ...] = ()
    viewer: tuple[str, ...] = ()
    default: str = "reviewer"

    def role_for(self, user_id: str, email: str | None = None, groups=()) -> str:
        """The highest role any rule grants this user, else the default."""
        names = {user_id.lower()} | ({email.lower()} if email else set())
        domains = {"*@" + name.split("@", 1)[1] for name in names if "@" in name}
        group_keys = {f"group:{group}".lower() for group in groups or ()}
        for role in SIGNIN_ROLES:
            entries = {entry.strip().lower() for entry in getattr(self, role)}
            if entries & (names | domains | group_keys):
                return role
        return self.default


def parse_roles(value) -> RoleRules:
    """Role rules from `admin=a@x.com,group:leads;viewer=*@partner.com;default=viewer` or a TOML table."""
    if isinstance(value, str):
        table: dict[str, object] = {}
        for part in value.split(";"):
            if not part.strip():
                continue
            if "=" not in part:
                raise InvalidInput(f"{ROLES_VARIABLE}: {part.strip()[:40]!r} is not role=entries")
            role, entries = part.split("=", 1)
            role = role.strip()
            table[role] = entries.strip() if role == "default" else [e for e in entries.split(",") if e.strip()]
        value = table
    if not isinstance(value, dict):
        raise InvalidInput(f"{ROLES_VARIABLE} must be a table of role = [entries]")
    unknown = set(value) - {*SIGNIN_ROLES, "default"}
    if unknown:
        raise InvalidInput(
            f"{ROLES_VARIABLE}: unknown role {sorted(unknown)[0]!r}; roles are {', '.join(SIGNIN_ROLES)}"
        )
    default = value.get("default", "reviewer")
    if default not in SIGNIN_ROLES:
        raise InvalidInput(f"{ROLES_VARIABLE}: default role {default!r} is not one of {', '.join(SIGNIN_ROLES)}")
    lists = {}
    for role in SIGNIN_ROLES:
        entries = value.get(role, [])
        if not isinstance(entries, list) or not all(isinstance(entry, str) for entry in entries):
            raise InvalidInput(f"{ROLES_VARIABLE}: {role} must be a list of emails, *@domain or group:NAME")
        lists[role] = tuple(entries)
    return RoleRules(**lists, default=default)


def configured_roles(secrets_files=SECRETS_FILES, *, roles_table=None) -> RoleRules:
    """Role rules from `FEEDBACK_ROLES`, else a `[roles]` table in the secrets file, else everyone a reviewer.

    `roles_table` is that table already read by the caller (the pages pass Streamlit's own secrets,
    which honour `--secrets.files`); the files are read only without it.
    """
    value = os.environ.get(ROLES_VARIABLE, "")
    if value.strip():
        return parse_roles(value)
    table = roles_table if roles_table is not None else secret("roles", secrets_files)
    return RoleRules() if table is None else parse_roles(table)


# ---- who is signed in -------------------------------------------------------------------------

TRUSTED_HEADER_VARIABLE = "FEEDBACK_TRUSTED_HEADER"
TRUSTED_GROUPS_HEADER_VARIABLE = "FEEDBACK_TRUSTED_GROUPS_HEADER"
# One machine, one person: whoever runs the dashboard locally owns the database file anyway.
LOCAL_ROLE = "admin"


def signed_in(
    subject: str | None,
    email: str | None = None,
    groups=(),
    role_rules: RoleRules | None = None,
    *,
    email_verified: bool | None = None,
) -> Actor:
    """The actor of a signed-in user: its id is the provider's email (lower-cased), else its subject.

    Never a name the user typed. An email the provider marks unverified is not used (anyone could
    claim a colleague's address, or a domain that role rules trust). `InvalidInput` when the provider
    gave neither, or an id outside the data layer's id alphabet.
    """
    email = email.strip().lower() if isinstance(email, str) and email.strip() and email_verified is not False else None
    subject = subject.strip() if isinstance(subject, str) and subject.strip() else None
    user_id = email or subject
    if user_id is None:
        raise InvalidInput("the identity provider gave neither an email nor a subject for this user")
    if isinstance(groups, str):
        groups = [group.strip() for group in groups.split(",") if group.strip()]
    role = (role_rules or RoleRules()).role_for(user_id, email, groups or ())
    return Actor(user_id, role)


def trusted_header() -> str | None:
    """The header an authenticating proxy puts the user's email in, when that mode is turned on."""
    name = os.environ.get(TRUSTED_HEADER_VARIABLE, "").strip()
    return name or None


def trusted_groups_header() -> str | None:
    name = os.environ.get(TRUSTED_GROUPS_HEADER_VARIABLE, "").strip()
    return name or None
