"""One value for every filter of the data layer: `Filters`, and the one function that turns it into SQL.

The threads list, the review queue, the stats and insights, the export and the audit trail narrow
their rows by the same frozen `Filters`, whose values are JSON-friendly (text, ints, booleans,
times as ISO 8601 UTC strings) and are checked once, when it is made, by the rules of
`data_layer.rules`. Each reader declares the fields it takes, each with fixed SQL (a `Table`:
field name -> condition with a `$field` parameter, or a function of the value and the engine that
returns a condition and its parameters); `conditions()` turns the fields that are set into that SQL
and its named parameters, so nothing a caller sends reaches the SQL text. A field the reader does
not take is refused (`InvalidInput`), never silently ignored.

Times: `since` is inclusive and `until` exclusive. A plain date (`YYYY-MM-DD`, or a `date`) for
`until` includes that whole day; a timestamp (ISO 8601, epoch seconds, a `datetime`) is taken as
it is. An empty string, like None, means "not set"; a flag is set when True.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from copy import copy
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta

from data_layer import rules
from data_layer.errors import InvalidInput

Clause = str | Callable[..., tuple[str, dict]]
Table = Mapping[str, Clause]

# What each text field holds, for its check: at most 200 characters, or an id, or one of a set.
_TEXT = ("assistant_id", "model_name", "reviewer", "not_reviewed_by")
_IDS = {"actor_id": "actor", "feedback_id": "feedback_id", "thread_id": "thread_id", "run_id": "run_id"}
_FLAGS = ("has_negative", "negative_user_feedback", "negative_reviewer_feedback", "follow_ups_only")
_TIMES = ("since", "until")
_RATINGS = {1: 1, -1: -1, "1": 1, "-1": -1, "positive": 1, "negative": -1, "up": 1, "down": -1}
MAX_SEARCH = 500
JUDGE_SOURCE = "judge"


@dataclass(frozen=True)
class Filters:
    """What a list, count or aggregate narrows to; each reader takes the fields that mean something to it.

    Runs and threads: `since`/`until` (the time each reader names: a run's start, a thread's last
    activity, an audit row's change), `assistant_id`, `model_name`, `status` (a run status), `search`
    (thread titles and messages), `has_negative` (a thread with a thumbs-down), `not_reviewed_by` (a
    thread without a vote of this user), `negative_user_feedback` (a run, or a thread, with an end
    user's thumbs-down), `negative_reviewer_feedback` (a thread with a reviewer's thumbs-down),
    `follow_ups_only`. Votes: `reviewer` (the owner), `source` (`judge`: judges' verdicts, which only the
    export lists), `rating` (1 or -1;
    `positive`/`negative` accepted). The audit trail: `actor_id`, `action`, `feedback_id`,
    `thread_id`, `run_id`.
    """

    since: str | None = None
    until: str | None = None
    assistant_id: str | None = None
    model_name: str | None = None
    status: str | None = None
    search: str | None = None
    has_negative: bool = False
    not_reviewed_by: str | None = None
    negative_user_feedback: bool = False
    negative_reviewer_feedback: bool = False
    follow_ups_only: bool = False
    reviewer: str | None = None
    source: str | None = None
    rating: int | None = None
    actor_id: str | None = None
    action: str | None = None
    feedback_id: str | None = None
    thread_id: str | None = None
    run_id: str | None = None

    def __post_init__(self):
        clean = {name: _check(name, getattr(self, name)) for name in FIELDS}
        start, end = (_moment(clean[name]) for name in _TIMES)
        if start is not None and end is not None and start >= end:
            raise InvalidInput("since must be before until")
        for name, value in clean.items():
            object.__setattr__(self, name, value)

    @classmethod
    def of(
        cls, value=None, *, takes: Iterable[str] | None = None, reader: str = "Filters", judges: bool = False
    ) -> Filters:
        """`value` (a `Filters`, a dict of its fields, or None for no filter) as `Filters`; with `takes`,
        refused when it sets a field outside those (`reader` names who refuses, in the message), or asks
        for the source `judge` from a reader of people's votes (all but those that say `judges`)."""
        allowed = FIELDS if takes is None else tuple(takes)
        if value is None:
            chosen = cls()
        elif isinstance(value, Filters):
            chosen = value
        elif isinstance(value, dict):
            unknown = [name for name in value if name not in FIELDS]
            if unknown:
                raise InvalidInput(f"unknown filter {unknown[0]!r:.60}; {reader} takes {', '.join(allowed)}")
            chosen = cls(**value)
        else:
            raise InvalidInput(f"filters must be a dict, got {type(value).__name__}")
        extra = [name for name in chosen.as_dict() if name not in allowed]
        if extra:
            raise InvalidInput(f"{reader} cannot be filtered by {extra[0]}; it takes {', '.join(allowed)}")
        if takes is not None and chosen.source == JUDGE_SOURCE and not judges:
            raise InvalidInput(
                f"{reader} reads people's votes; judges' verdicts are in the export and on the Judges page"
            )
        return chosen

    def as_dict(self) -> dict:
        """The fields that are set, JSON-ready."""
        return {name: value for name in FIELDS if (value := getattr(self, name)) is not None and value is not False}

    @property
    def since_time(self) -> datetime | None:
        return _moment(self.since)

    @property
    def until_time(self) -> datetime | None:
        return _moment(self.until)

    def previous(self) -> Filters | None:
        """The period of equal length just before this one, or None without a full date range. Its
        start may fall before the times a caller may give (1970), so it is set rather than checked."""
        start, end = self.since_time, self.until_time
        if start is None or end is None:
            return None
        before = copy(self)
        object.__setattr__(before, "since", (start - (end - start)).isoformat())
        object.__setattr__(before, "until", self.since)
        return before


FIELDS = tuple(field.name for field in fields(Filters))


def conditions(filters: Filters, table: Table, *, engine=None) -> tuple[str, dict]:
    """The conditions of `table` for the fields of `filters` that are set, joined by AND (TRUE when
    none is), and their named parameters (times as datetimes). `engine` reaches a clause built by a
    function (the threads' search needs its dialect)."""
    parts, params = [], {}
    for name, clause in table.items():
        value = getattr(filters, name)
        if value is None or value is False:
            continue
        if callable(clause):
            sql, own = clause(value, engine)
            parts.append(sql)
            params.update(own)
        else:
            parts.append(clause)
            params[name] = _moment(value) if name in _TIMES else value
    return " AND ".join(parts) or "TRUE", params


# The filters of runs (alias `r`) and of votes (alias `f`) that the stats, the insights and the
# export share: time, assistant and model narrow the runs, the reviewer and the source the votes.
RUNS: Table = {
    "since": "r.created_at >= $since",
    "until": "r.created_at < $until",
    "assistant_id": "r.assistant_id = $assistant_id",
    "model_name": "r.model_name = $model_name",
}
VOTES: Table = {"reviewer": "f.owner_id = $reviewer", "source": "f.source = $source"}
# The run filters as conditions on a vote's copies of its run (`data_layer.rollups`): an aggregate of
# votes narrows them without joining the runs.
RUN_COPIES: Table = {
    "since": "f.run_at >= $since",
    "until": "f.run_at < $until",
    "assistant_id": "f.run_assistant_id = $assistant_id",
    "model_name": "f.run_model_name = $model_name",
}


def _check(name: str, value):
    if name in _FLAGS:
        if value is None:
            return False
        if type(value) is not bool:
            raise InvalidInput(f"{name} must be true or false, got {value!r:.40}")
        return value
    if value is None or value == "":
        return None
    if name in _TIMES:
        return _bound(value, name, end=name == "until").isoformat()
    if name in _TEXT:
        return rules.text(value, name, 200)
    if name in _IDS:
        return rules.identifier(value, _IDS[name])
    if name == "search":
        return rules.text(value, name, MAX_SEARCH)
    if name == "status":
        return rules.run_status(value)
    if name == "source":
        # `judge` asks for judges' verdicts, which the export lists (`export_judges.py`); no vote has it
        return value if value == JUDGE_SOURCE else rules.source(value)
    if name == "action":
        return rules.audit_action(value)
    if name == "rating":
        if isinstance(value, bool) or not isinstance(value, int | str) or value not in _RATINGS:
            raise InvalidInput(f"rating {value!r:.20} is not positive, negative, 1 or -1")
        return _RATINGS[value]
    raise AssertionError(f"no check for the filter {name}")


def _bound(value, field: str, *, end: bool) -> datetime:
    """A time bound: a date is its day's start (for an `end`, the next day's), anything else a timestamp."""
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            value = date.fromisoformat(value.strip())
        except ValueError as error:
            raise InvalidInput(f"{field} {value!r} is not a date (YYYY-MM-DD)") from error
    if isinstance(value, date) and not isinstance(value, datetime):
        if not rules.EARLIEST.date() <= value < rules.LATEST.date():
            raise InvalidInput(f"{field} {value.isoformat()} is out of range (1970..2199)")
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
        return moment + timedelta(days=1) if end else moment
    return rules.timestamp(value, field)


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
