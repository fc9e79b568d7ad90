"""DuckDB's connection: a cursor with the small query vocabulary of `engines.Conn`, DuckDB's errors mapped onto
the data layer's."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from data_layer.engines import bind
from data_layer.engines.faults import FaultPlan, step
from data_layer.errors import Conflict, InvalidInput


def short(error: Exception) -> str:
    """The first line of a DuckDB error, the one a message shows."""
    return str(error).split("\n")[0]


class DuckConn:
    """A cursor with the small query vocabulary the data layer uses."""

    # Every write holds the process-wide lock of its file (`DuckEngine.write`): no row locks are needed.
    writes_serialized = True

    def lock_threads(self, ids: str, params: dict | None = None) -> None:
        """Nothing to do: no other writer runs while this one holds the process's write lock."""

    def snapshot(self) -> None:
        """Nothing to do: every DuckDB transaction reads one snapshot."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, faults: FaultPlan | None = None):
        self.cursor = cursor
        self.faults = faults

    def _run(self, sql: str, params: dict | None):
        text, args = bind(sql, params)
        step(self.faults, "statement")
        try:
            return self.cursor.execute(text, args)
        except duckdb.ConstraintException as error:
            if "Duplicate key" in str(error):
                raise Conflict(short(error)) from error
            raise InvalidInput(short(error)) from error
        except (duckdb.ConversionException, duckdb.OutOfRangeException) as error:
            raise InvalidInput(short(error)) from error

    def all(self, sql: str, params: dict | None = None) -> list[dict]:
        result = self._run(sql, params)
        names = [column[0] for column in result.description]
        return [dict(zip(names, row)) for row in result.fetchall()]

    def one(self, sql: str, params: dict | None = None) -> dict | None:
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: dict | None = None):
        rows = self._run(sql, params).fetchall()
        return rows[0][0] if rows else None

    def execute(self, sql: str, params: dict | None = None) -> None:
        self._run(sql, params).fetchall()

    def arrow_batches(self, sql: str, params: dict | None = None, batch_size: int = 65536):
        """Stream a query's result as Arrow record batches (exports never hold it all)."""
        text, args = bind(sql, params)
        # `cursor.sql()` streams; `execute().to_arrow_reader()` materializes the whole result first.
        reader = self.cursor.sql(text, params=args).to_arrow_reader(batch_size)
        yield from reader

    def bulk_batches(self, sql: str, params: dict | None = None, batch_size: int = 65536):
        """A large read streams as any other here."""
        return self.arrow_batches(sql, params, batch_size)

    def load(self, table: str, data: pa.Table) -> None:
        """Append an Arrow table to an existing table, columns matched by name."""
        view = f"_load_{table}"
        step(self.faults, "load")
        self.cursor.register(view, data)
        try:
            columns = ", ".join(data.column_names)
            self.cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {view}")
        finally:
            self.cursor.unregister(view)
