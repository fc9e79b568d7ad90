"""A named statement of the import (`checks.py`, `merge.py`), with the flags that say when and how it runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """One statement of the import, by name.

    `sql` runs where writes are serialized in the process (DuckDB), and everywhere unless
    `concurrent_sql` gives the text for engines whose writers meet (PostgreSQL). A step
    `when_votes_change` runs only when the file creates or changes a stored vote's value; before a
    step that `starts_index`, the new messages' words start being worked out for the search index;
    after a step that `locks`, the threads that query names are locked (`conn.lock_threads`).
    """

    name: str
    sql: str
    concurrent_sql: str | None = None
    when_votes_change: bool = False
    starts_index: bool = False
    locks: str | None = None

    def text(self, conn) -> str:
        return self.sql if self.concurrent_sql is None or conn.writes_serialized else self.concurrent_sql
