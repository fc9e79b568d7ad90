"""Fault injection for the tests: make the Nth step of a write fail, on either engine.

A step is a statement, a bulk load or the commit of a transaction run by `engine.write(fn)`. The tests
count a write's steps with a plan that fails none, then run it again once per step with that step
failing, and check that the caller either gets an error and nothing changed, or gets success and
everything is stored (tests/test_faults.py). The failure is an engine error of the kind named
(`conflict`, which the engine retries; `disk_full`, which it must not), raised where the engine's
own error would be, so the engine's retry and error mapping run as they do for a real fault.

Production code never sets a plan: `engine.faults` is None and each step costs one attribute test.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from contextlib import contextmanager
from dataclasses import dataclass, field

KINDS = ("conflict", "disk_full", "io_error")


@dataclass
class FaultPlan:
    """Fail the steps numbered in `fail_at` (1-based, counted over every attempt of every write) with an
    error made by `error(kind_of_step)`; None fails nothing and only counts. `steps` lists the steps seen,
    `fired` counts the failures raised."""

    fail_at: int | Collection[int] | None = None
    error: Callable[[str], Exception] | None = None
    steps: list[str] = field(default_factory=list)
    fired: int = 0

    def step(self, what: str) -> None:
        self.steps.append(what)
        number = len(self.steps)
        if self.error is not None and (
            number == self.fail_at or isinstance(self.fail_at, Collection) and number in self.fail_at
        ):
            self.fired += 1
            raise self.error(what)


def attempts_failing_at(steps: Collection[int]) -> frozenset[int]:
    """The absolute step numbers that fail the first attempt of a write at its step `steps[0]`, the
    retry at its own step `steps[1]`, and so on: one write then meets a fault at each of these points
    (a failed attempt ends at the step that failed, and the next starts after it)."""
    points, offset = [], 0
    for relative in steps:
        points.append(offset + relative)
        offset += relative
    return frozenset(points)


def step(faults: FaultPlan | None, what: str) -> None:
    """Count a step of a write, failing it when the plan says so (no-op without a plan)."""
    if faults is not None:
        faults.step(what)


@contextmanager
def injected(engine, plan: FaultPlan):
    """Run the block with `plan` applied to every write of `engine`."""
    engine.faults = plan
    try:
        yield plan
    finally:
        engine.faults = None


def engine_error(engine_name: str, kind: str) -> Callable[[str], Exception]:
    """A maker of the error `engine_name`'s driver raises for a fault of `kind`, with its real wording
    (DuckDB reports a full disk at commit as a TransactionException, as a conflict is reported)."""
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}")
    if engine_name == "duckdb":
        import duckdb

        made: Callable[[], Exception] = {
            "conflict": lambda: duckdb.TransactionException("TransactionContext Error: Conflict on update!"),
            "disk_full": lambda: duckdb.TransactionException(
                'TransactionContext Error: Failed to commit: Could not write file "feedback.duckdb.wal": '
                "No space left on device"
            ),
            "io_error": lambda: duckdb.IOException('IO Error: Could not read from file "feedback.duckdb": I/O error'),
        }[kind]
    else:
        from psycopg import errors as pg_errors

        made = {
            "conflict": lambda: pg_errors.DeadlockDetected("deadlock detected"),
            "disk_full": lambda: pg_errors.DiskFull("could not extend file: No space left on device"),
            "io_error": lambda: pg_errors.IoError('could not read block 0 in file "base/16384/16385": I/O error'),
        }[kind]
    return lambda what: made()
