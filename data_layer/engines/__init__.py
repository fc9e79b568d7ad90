"""Database engines: the few things DuckDB and PostgreSQL do differently, behind one small interface.

Every query in the data layer is written once, with named `$name` parameters; `bind()` turns
them into the positional `$1` form that both DuckDB and psycopg's RawCursor accept, so the
very same SQL text runs on both engines. An engine offers:

- `read()`: a context manager yielding a `Conn` for queries outside a transaction;
- `write(fn)`: runs `fn(conn)` in one transaction, serialized and retried on write conflicts;
- `load(conn, table, arrow_table)` inside a write: bulk-load rows into an existing table;
- `ddl(step)`: the engine's own variant of a migration step, when it has one.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache

_NAMED = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@lru_cache(maxsize=1024)
def _compile(sql: str) -> tuple[str, tuple[str, ...]]:
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _NAMED.sub(number, sql), tuple(names)


def bind(sql: str, params: dict | None) -> tuple[str, list]:
    """Turn `$name` placeholders into `$1..$n` and the dict into the matching list."""
    text, names = _compile(sql)
    if not names:
        return text, []
    if params is None:
        raise KeyError(f"query needs parameters {names}")
    return text, [params[name] for name in names]


# Where a word ends for the message-search index (data_layer/search_index.py): ASCII whitespace and punctuation,
# nothing else, so that DuckDB, PostgreSQL and Python (threads.search_words) split text the same way.
WORD_SEPARATORS = " \t\n\r\f\v" + string.punctuation
# The same characters as SQL expressions, built from chr() so that no quote or semicolon is in the text.
SEPARATORS_SQL = " || ".join(f"chr({ord(char)})" for char in WORD_SEPARATORS)
SPACES_SQL = f"repeat(' ', {len(WORD_SEPARATORS)})"


def open_engine(url: str):
    """Pick the engine for a `FEEDBACK_DB` value: a PostgreSQL URL, else a DuckDB path."""
    if url.startswith(("postgresql://", "postgres://")):
        from data_layer.engines.pg import PostgresEngine

        return PostgresEngine(url)
    from data_layer.engines.duck import DuckEngine

    return DuckEngine(url)
