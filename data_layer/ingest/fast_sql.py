"""The record rules of `ingest/records.py` written as DuckDB SQL over the Arrow columns of a JSONL file, for the
fast reader (`fast.py`): per kind, a query giving each line's staged row and whether it passes every rule."""

from __future__ import annotations

import sys

from data_layer import messages, rules
from data_layer.judges import verdict
from data_layer.schema import FEEDBACK_SOURCES, REASON_TAGS, RUN_STATUSES

# The keys of a content object taken here, in the order the object must list them.
CONTENT_KEYS = ("type", "content", "id", "tool_call_id", "name")

# A regular expression class of what `str.strip()` strips.
_SPACE = "[" + "".join(f"\\x{{{code:x}}}" for code in range(sys.maxunicode + 1) if chr(code).isspace()) + "]"
_ID = rules.ID_PATTERN
_TIME = r"\d{4}-\d{2}-\d{2}[T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?"
_NAMESPACE_BLOB = "".join(f"\\x{byte:02X}" for byte in rules.FEEDBACK_NAMESPACE.bytes)


def _list(values) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _case(expression: str, mapping: dict[str, str]) -> str:
    whens = " ".join(f"WHEN '{key}' THEN '{value}'" for key, value in mapping.items())
    return f"(CASE {expression} {whens} END)"


def _pystr(expression: str) -> str:
    """`json.dumps` of a string holding no control characters other than \\n, \\r, \\t."""
    escaped = f"replace(replace({expression}, '\\', '\\\\'), '\"', '\\\"')"
    escaped = f"replace(replace(replace({escaped}, chr(10), '\\n'), chr(13), '\\r'), chr(9), '\\t')"
    # Most strings need no escape; finding that out is cheaper than five replacements.
    plain = f"NOT regexp_matches({expression}, '[\"\\\\\\x00-\\x1f]')"
    return f"('\"' || CASE WHEN {plain} THEN {expression} ELSE {escaped} END || '\"')"


def _ascii(expression: str) -> str:
    """`expression` with DEL and every non-ASCII character written as `json.dumps` writes them by default
    (`\\u00e9`, a surrogate pair beyond the basic plane), so that a key hashed here matches Python's."""
    hi = "lower(hex(55296 + ((unicode(ch) - 65536) >> 10)))"
    lo = "lower(hex(56320 + ((unicode(ch) - 65536) & 1023)))"
    each = (
        "CASE WHEN unicode(ch) < 127 THEN ch "
        "WHEN unicode(ch) < 65536 THEN '\\u' || lpad(lower(hex(unicode(ch))), 4, '0') "
        f"ELSE '\\u' || {hi} || '\\u' || {lo} END"
    )
    spelled = f"array_to_string(list_transform(string_split({expression}, ''), lambda ch: {each}), '')"
    return f"CASE WHEN regexp_matches({expression}, '[^\\x00-\\x7e]') THEN {spelled} ELSE {expression} END"


def _id(column: str) -> str:
    return f"regexp_full_match({column}, '{_ID}')"


def _opt_id(column: str) -> str:
    return f"({column} IS NULL OR {_id(column)})"


def _text(column: str, limit: int) -> str:
    return f"(length({column}) <= {limit} AND strpos({column}, chr(0)) = 0)"


def _opt_text(column: str, limit: int = rules.MAX_TEXT) -> str:
    return f"({column} IS NULL OR {_text(column, limit)})"


def _opt_int(column: str) -> str:
    return f"({column} IS NULL OR {column} BETWEEN 0 AND {2**62})"


def _time(column: str) -> str:
    """The time of a string of the one accepted ISO-8601 shape (naive means UTC), else NULL."""
    return (
        f"CASE WHEN regexp_full_match({column}, '{_TIME}') THEN "
        f"TRY_CAST(CASE WHEN regexp_matches({column}, '(Z|[+-]\\d\\d:\\d\\d)$') THEN {column} "
        f"ELSE {column} || '+00:00' END AS TIMESTAMPTZ) END"
    )


def _opt_time(column: str) -> str:
    return (
        f"({column} IS NULL OR ({column}_ts >= TIMESTAMPTZ '{rules.EARLIEST.isoformat()}'"
        f" AND {column}_ts < TIMESTAMPTZ '{rules.LATEST.isoformat()}'))"
    )


# A feedback record that is a person's vote, not a judge's verdict (`source` judge).
_PEOPLE = "source IS DISTINCT FROM 'judge'"
_OWNER = "(CASE WHEN owner_id IS NOT NULL THEN owner_id ELSE user_id END)"
_OWNER_OK = f"(CASE WHEN owner_id IS NOT NULL THEN {_id('owner_id')} ELSE {_opt_id('user_id')} END)"
_METADATA = "CASE WHEN metadata IS NOT NULL THEN '{}' END"


def _records(kind: str, where: str = "TRUE") -> str:
    """The records of one kind (those of them `where` holds for) with their times parsed."""
    return (
        f"(SELECT *, {_time('created_at')} AS created_at_ts, {_time('updated_at')} AS updated_at_ts "
        f"FROM records WHERE kind = '{kind}' AND {where})"
    )


def _thread_sql() -> str:
    ok = " AND ".join(
        [
            _id("thread_id"),
            _opt_id("assistant_id"),
            _OWNER_OK,
            _opt_text("display_name", 1000),
            _opt_text("status", 50),
            _opt_time("created_at"),
            _opt_time("updated_at"),
        ]
    )
    return f"""
    SELECT coalesce({ok}, false) AS ok, line, thread_id, assistant_id, {_OWNER} AS owner_id, display_name, status,
           {_METADATA} AS metadata, created_at_ts AS created_at, updated_at_ts AS updated_at
    FROM {_records("thread")}
    """


def _run_sql() -> str:
    ok = " AND ".join(
        [
            _id("run_id"),
            _id("thread_id"),
            _opt_id("assistant_id"),
            _OWNER_OK,
            f"(status IS NULL OR status IN ({_list(RUN_STATUSES)}))",
            _opt_text("model_name", 200),
            _opt_text("error"),
            _opt_int("message_count"),
            _opt_text("first_human_message", rules.MAX_CONTENT),
            _opt_text("last_ai_message", rules.MAX_CONTENT),
            _opt_int("total_input_tokens"),
            _opt_int("total_output_tokens"),
            _opt_int("total_tokens"),
            _opt_int("llm_call_count"),
            _opt_id("follow_up_to_run_id"),
            _opt_time("created_at"),
            _opt_time("updated_at"),
        ]
    )
    return f"""
    SELECT coalesce({ok}, false) AS ok, line, run_id, thread_id, assistant_id, {_OWNER} AS owner_id,
           coalesce(status, 'pending') AS status, model_name, error, message_count, first_human_message,
           last_ai_message, total_input_tokens, total_output_tokens, total_tokens, llm_call_count,
           follow_up_to_run_id, {_METADATA} AS metadata, created_at_ts AS created_at, updated_at_ts AS updated_at
    FROM {_records("run")}
    """


# Control characters that `json.dumps` writes as \uXXXX, \b or \f: content holding one goes the slow way.
_ODD_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"


def _event_sql(objects: bool) -> str:
    """Events whose content is a flat object in every line (`objects`) or a string or null in every line."""
    event_roles = _case("event_type", messages.MESSAGE_ROLES)
    category = (
        f"CASE WHEN event_type IN ({_list(messages.MESSAGE_ROLES)}) THEN 'message' "
        "WHEN category <> '' THEN category "
        "WHEN starts_with(event_type, 'middleware:') THEN 'middleware' "
        "WHEN starts_with(event_type, 'run_') OR starts_with(event_type, 'run.') THEN 'lifecycle' "
        "ELSE 'trace' END"
    )
    if objects:
        fields = [f"content.{name}" for name in CONTENT_KEYS]
        # `json.dumps(content, ensure_ascii=False)` if the object lists exactly its non-null keys in this
        # order; the line holding that very text at its top-level "content" key proves it does.
        parts = ", ".join(f"'\"{name}\": ' || {_pystr(field)}" for name, field in zip(CONTENT_KEYS, fields))
        columns = f"""
            CASE WHEN content IS NOT NULL THEN '{{' || concat_ws(', ', {parts}) || '}}' END AS content_text,
            coalesce({_case("lower(content.type)", messages._DUMP_ROLES)}, {event_roles}) AS p_role,
            coalesce(content.content, '') AS p_text,
            CASE WHEN {_id("content.id")} THEN content.id ELSE thread_id || ':' || CAST(seq AS VARCHAR) END
                AS p_message_id,
            content.tool_call_id AS p_tool_call_id, content.name AS p_name
        """
        content_ok = (
            "(content IS NULL OR (contains(j, '\"content\": ' || content_text)"
            f" AND length(content_text) <= {rules.MAX_CONTENT}"
            f" AND NOT regexp_matches(concat({', '.join(fields)}), '{_ODD_CONTROL}')"
            " AND (content.type IS NULL OR regexp_full_match(content.type, '[\\x00-\\x7f]*'))))"
        )
    else:
        columns = f"""
            content AS content_text, {event_roles} AS p_role, coalesce(content, '') AS p_text,
            thread_id || ':' || CAST(seq AS VARCHAR) AS p_message_id,
            CAST(NULL AS VARCHAR) AS p_tool_call_id, CAST(NULL AS VARCHAR) AS p_name
        """
        # A string that looks like a JSON dump is parsed by `messages.parse`: left to the per-record path.
        dump = f"regexp_matches(content, '^{_SPACE}*\\{{')"
        content_ok = f"(content IS NULL OR ({_text('content', rules.MAX_CONTENT)} AND NOT {dump}))"
    ok = " AND ".join(
        [
            _id("thread_id"),
            _id("run_id"),
            f"seq BETWEEN 0 AND {rules.MAX_SEQ}",
            _text("event_type", 100),
            f"regexp_matches(event_type, '[^{_SPACE[1:]}')",
            _opt_text("category", 100),
            content_ok,
            _opt_time("created_at"),
        ]
    )
    return f"""
    SELECT coalesce({ok}, false) AS ok, line, thread_id, run_id, seq, event_type, p_category AS category,
           CASE WHEN p_category = 'message' THEN p_role END AS role,
           CASE WHEN p_category = 'message' THEN p_message_id END AS message_id,
           content_text AS content, p_text AS text, CAST(NULL AS VARCHAR) AS tool_calls,
           p_tool_call_id AS tool_call_id, p_name AS name, {_METADATA} AS metadata, created_at_ts AS created_at
    FROM (SELECT *, {category} AS p_category, {columns} FROM {_records("event")})
    """


def _feedback_sql() -> str:
    comment = f"CASE WHEN regexp_matches(comment, '[^{_SPACE[1:]}') THEN comment END"
    # The id of a vote without one: uuid5 of `json.dumps([...])`, which escapes every non-ASCII character.
    key = (
        f"'[\"' || thread_id || '\", \"' || run_id || '\", ' || coalesce('\"' || {_OWNER} || '\"', 'null') "
        "|| ', ' || coalesce('\"' || message_id || '\"', 'null') || ', ' || CAST(rating AS VARCHAR) || ', ' "
        f"|| coalesce({_ascii(_pystr('comment_v'))}, 'null') || ', ' "
        "|| coalesce('\"' || created_at || '\"', 'null') || ']'"
    )
    derived = (
        "substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-5' || substr(h, 14, 3) || '-' "
        "|| substr('89ab', (CAST(('0x' || substr(h, 17, 1)) AS INTEGER) & 3) + 1, 1) || substr(h, 18, 3) || '-' "
        "|| substr(h, 21, 12)"
    )
    ok = " AND ".join(
        [
            _id("thread_id"),
            _id("run_id"),
            "rating IN (1, -1)",
            _OWNER_OK,
            _opt_id("message_id"),
            _opt_text("comment", rules.MAX_COMMENT),
            _opt_time("created_at"),
            _opt_id("feedback_id"),
            f"(feedback_id IS NOT NULL OR comment_v IS NULL OR NOT regexp_matches(comment_v, '{_ODD_CONTROL}'))",
            f"(tags IS NULL OR len(list_filter(tags, lambda t: coalesce(t NOT IN ({_list(REASON_TAGS)}), true))) = 0)",
            f"(source IS NULL OR source IN ({_list(FEEDBACK_SOURCES)}))",
            # a `judge` names the judge of a verdict (`_verdict_sql`), never a vote's: the per-record path says so
            "judge IS NULL",
            _opt_time("updated_at"),
        ]
    )
    tags = (
        "CASE WHEN tags IS NULL THEN CAST([] AS VARCHAR[]) "
        "ELSE list_filter(tags, lambda t, i: list_position(tags, t) = i) END"
    )
    return f"""
    SELECT coalesce({ok}, false) AS ok, line, coalesce(feedback_id, {derived}) AS feedback_id, thread_id, run_id,
           {_OWNER} AS owner_id, message_id, coalesce(message_id, '') AS scope, rating, comment_v AS comment,
           {tags} AS tags, coalesce(source, 'end_user') AS source, created_at_ts AS created_at,
           updated_at_ts AS updated_at, feedback_id IS NOT NULL AS given_id
    FROM (
        SELECT *, CASE WHEN feedback_id IS NULL THEN sha1('{_NAMESPACE_BLOB}'::BLOB || encode({key})) END AS h
        FROM (SELECT *, {comment} AS comment_v FROM {_records("feedback", _PEOPLE)})
    )
    """


def _verdict_sql() -> str:
    """A judge's verdict, a feedback record of source judge, by the rules of `ingest/verdicts.py`; one with
    `scores` is not read here at all (an unknown key), so its file takes the per-record path."""
    ok = " AND ".join(
        [
            _id("judge"),
            _id("thread_id"),
            _id("run_id"),
            "rating IN (1, -1)",
            _opt_id("message_id"),
            "(owner_id IS NULL OR owner_id = judge)",
            "(user_id IS NULL OR user_id = judge)",
            "(tags IS NULL OR len(tags) = 0)",
            "feedback_id IS NULL",
            "(rationale IS NULL OR comment IS NULL)",
            _opt_text("rationale", verdict.MAX_RATIONALE),
            _opt_text("comment", verdict.MAX_RATIONALE),
            _opt_time("created_at"),
            _opt_time("updated_at"),
        ]
    )
    return f"""
    SELECT coalesce({ok}, false) AS ok, line, judge, thread_id, run_id, message_id, coalesce(message_id, '') AS scope,
           rating, coalesce(rationale, comment) AS rationale, CAST(NULL AS VARCHAR) AS scores,
           created_at_ts AS created_at, updated_at_ts AS updated_at
    FROM {_records("feedback", f"NOT {_PEOPLE}")}
    """


STAGE_SQL = {
    "thread": _thread_sql(),
    "run": _run_sql(),
    "feedback": _feedback_sql(),
    "judge": _verdict_sql(),
}
EVENT_SQL = {True: _event_sql(objects=True), False: _event_sql(objects=False)}
ODD_KINDS = f"SELECT count(*) FROM records WHERE kind IS NULL OR kind NOT IN ({_list((*STAGE_SQL, 'event'))})"
