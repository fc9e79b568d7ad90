"""SIGKILL harness: child processes that vote, import and checkpoint a DuckDB store, killed at chosen moments,
and the checks run after each kill. Used by the crash test (tests/test_reliability.py) and by its stress mode
(`python -m tests.crash_stress`).

Kill points are spread over three phases of the child's life:
- `write`: while a vote or an import is being written;
- `checkpoint`: while the log is folded into the database file;
- `replay`: while the child opens the store, which replays the log the previous kill left;
and `any`: a random moment after the child is ready, as a kill from outside would land; and `tear`: the worst
moment, in the middle of one of the child's 256 KiB block writes (tests/torn_write.c tears the Nth one and
kills the child, as Linux does when SIGKILL comes during a buffered write; it needs a C compiler).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from data_layer import demo, open_store
from data_layer.auth import SYSTEM
from data_layer.integrity import check

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("any", "write", "checkpoint", "replay")
TEAR = "tear"
# The block writes a `tear` picks from: a voter's first three checkpoints write about 13 blocks each (metadata block 0
# last), an import about as many, and its checkpoint more.
TEAR_WRITES = 40

# The children checkpoint after every write (on DuckDB's checkpoint thread, engines/duck.py), so that kills land
# during checkpoints too. They say when they open the store and when it is ready, and how long each write and
# checkpoint took. `CRASH_KILL=PHASE:N:SECONDS` makes a child kill itself that long after its Nth write or
# checkpoint began: a timer thread sends the SIGKILL, so the kill lands inside the phase however slow the machine
# is (the parent spreads SECONDS over how long the phase took last time).
_ANNOUNCE = """
import json, os, signal, sys, threading, time
from data_layer import open_store
from data_layer.auth import SYSTEM
from data_layer.engines import duck
def say(line):
    # One write per line: the checkpoint thread and the writer print at once.
    os.write(1, (line + "\\n").encode())
kill_phase, kill_nth, kill_after = (os.environ.get("CRASH_KILL") or "none:0:0").split(":")
began = {"write": 0, "checkpoint": 0}
def timed(phase, work, *args, **kwargs):
    began[phase] += 1
    if phase == kill_phase and began[phase] == int(kill_nth):
        threading.Timer(float(kill_after), os.kill, (os.getpid(), signal.SIGKILL)).start()
    start = time.perf_counter()
    result = work(*args, **kwargs)
    say(f"took {phase} {time.perf_counter() - start:.6f}")
    return result
duck.CHECKPOINT_BYTES = 1
say("open")
store = open_store(sys.argv[1])
checkpoint = store.engine.checkpoint
store.engine.checkpoint = lambda: timed("checkpoint", checkpoint)
say("ready")
"""

VOTER = (
    _ANNOUNCE
    + """
targets = json.loads(sys.argv[2])
n = 0
while True:
    thread_id, run_id = targets[n % len(targets)]
    owner = f"{sys.argv[3]}-{n}"
    rating = 1 if n % 3 else -1
    row = timed(
        "write", store.feedback.create, thread_id=thread_id, run_id=run_id, rating=rating, owner_id=owner, actor=SYSTEM
    )
    say(json.dumps([row["feedback_id"], rating]))
    n += 1
"""
)

IMPORTER = (
    _ANNOUNCE
    + """
report = timed("write", store.import_file, sys.argv[2], actor=SYSTEM)
say("done" if report.ok else report.summary())
store.engine.settle()
"""
)

# How long a phase lasts before any child has said (seconds, on an idle machine).
_FIRST_GUESS = {
    (False, "write"): 0.05,
    (False, "checkpoint"): 0.03,
    (True, "write"): 0.5,
    (True, "checkpoint"): 0.15,
    (False, "replay"): 0.05,
    (True, "replay"): 0.05,
}


@dataclass
class KillPoint:
    """When to kill: `after` seconds into the child's `nth` write or checkpoint (the child kills itself), into
    its open (`replay`), or after it is ready (`any`)."""

    phase: str
    nth: int = 1
    after: float = 0.0


@dataclass
class Timings:
    """How long each phase took in the last child that went through it, per kind of child (importer or not)."""

    seen: dict = field(default_factory=lambda: dict(_FIRST_GUESS))

    def draw(self, phase: str, importing: bool, rng: random.Random) -> KillPoint:
        """A kill point in `phase`, spread over the whole of it as it lasts on this machine now."""
        if phase == "any":
            return KillPoint(phase, 1, rng.uniform(0.05, 0.8))
        if phase == TEAR:
            return KillPoint(phase, rng.randint(1, TEAR_WRITES))
        nth = 1 if importing or phase == "replay" else rng.randint(1, 4)
        return KillPoint(phase, nth, rng.uniform(0.0, self.seen[(importing, phase)]))


@dataclass
class Child:
    """What a killed child printed (its acknowledgements), whether the kill landed in its phase, and how the
    child ended."""

    acks: list[str] = field(default_factory=list)
    reached: bool = False
    returncode: int = 0


def build_torn_write(directory: Path) -> str | None:
    """tests/torn_write.c built in `directory`; None without Linux or a C compiler."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if sys.platform != "linux" or compiler is None:
        return None
    library = directory / "torn_write.so"
    source = ROOT / "tests" / "torn_write.c"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(library), str(source), "-ldl"], check=True)
    return str(library)


def run_and_kill(code: str, args: list[str], point: KillPoint, timings: Timings, importing: bool, env=None) -> Child:
    """Start a child and see it killed with SIGKILL at `point`; return what it printed. A `tear` needs
    `TORN_LIBRARY` (build_torn_write) in `env`."""
    inside = point.phase in ("write", "checkpoint", TEAR)
    env = dict(env or {})
    if point.phase == TEAR:
        env.update(LD_PRELOAD=env.pop("TORN_LIBRARY"), TORN_NTH=str(point.nth))
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "CRASH_KILL": f"{point.phase}:{point.nth}:{point.after:.6f}" if inside else "",
            **env,
        },
    )
    child = Child()
    began = {"write": 0, "checkpoint": 0}
    opened = threading.Event()
    ready = threading.Event()
    clock = {}

    def read() -> None:
        for line in process.stdout:
            line = line.strip()
            if line == "open":
                clock["open"] = time.monotonic()
                opened.set()
            elif line == "ready":
                timings.seen[(importing, "replay")] = time.monotonic() - clock.get("open", time.monotonic())
                ready.set()
            elif line.startswith("took "):
                _, phase, seconds = line.split()
                began[phase] += 1
                timings.seen[(importing, phase)] = float(seconds)
            elif line:
                child.acks.append(line)
        opened.set()
        ready.set()

    reader = threading.Thread(target=read)
    reader.start()
    if inside:
        # The child kills itself; one that never reaches its Nth write or checkpoint is killed after a while.
        ended = _wait(process, 60)
    else:
        (opened if point.phase == "replay" else ready).wait(120)
        ended = _wait(process, point.after)
        child.reached = not ended and (not ready.is_set() if point.phase == "replay" else True)
    if not ended:
        process.send_signal(signal.SIGKILL)
    process.wait()
    reader.join()
    child.returncode = process.returncode
    if point.phase == TEAR:
        child.reached = ended and process.returncode == -signal.SIGKILL
    elif inside:
        # Killed inside the phase: the Nth one began and never said how long it took.
        child.reached = ended and began[point.phase] == point.nth - 1
    return child


def _wait(process: subprocess.Popen, seconds: float) -> bool:
    """Whether the process ended within `seconds`."""
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


@dataclass
class Ledger:
    """What the store must hold after any kill: every acknowledged vote, all or none of each import."""

    votes: dict[str, int] = field(default_factory=dict)
    imports: list[tuple[list[str], int]] = field(default_factory=list)
    # Opens that found a checkpoint interrupted and wrote its journaled blocks back (engines/duck_journal.py).
    written_back: int = 0

    def problems(self, db: str) -> list[str]:
        """Everything wrong with the store at `db`; empty when it opens and holds what it must."""
        try:
            store = open_store(db)
        except Exception as error:  # noqa: BLE001 - a store that does not open is the finding
            return [f"does not open: {error}"]
        with store:
            self.written_back += bool(getattr(store.engine, "recovered", None))
            found = [f"integrity: {name} ({count} rows)" for name, count in check(store).items()]
            for feedback_id, rating in self.votes.items():
                stored = store.feedback.get(feedback_id, actor=SYSTEM)
                if stored is None or stored["rating"] != rating:
                    found.append(f"acknowledged vote {feedback_id} lost")
            for thread_ids, events in self.imports:
                present = sum(len(store.events.list(thread_id)) for thread_id in thread_ids)
                if present not in (0, events):
                    found.append(f"partial import: {present} of {events} events")
            return found


def seeded(db: str, threads: int = 20) -> list[tuple[str, str]]:
    """Create the store at `db` with demo data; the (thread, run) pairs the voters vote on."""
    with open_store(db) as store:
        assert demo.seed(store, threads=threads, seed=1, actor=SYSTEM).ok
        listed = store.threads.list(limit=6, order="created_at asc")
        return [(t["thread_id"], run["run_id"]) for t in listed for run in store.runs.list_by_thread(t["thread_id"])]


def kill_round(
    db: str, targets, ledger: Ledger, round_: int, point: KillPoint, importing: bool, workdir: Path, timings, env=None
) -> Child:
    """One round: a voter or an importer killed at `point`; the ledger learns what it acknowledged."""
    if not importing:
        child = run_and_kill(VOTER, [db, json.dumps(targets), f"crash{round_}"], point, timings, importing, env)
        for line in child.acks:
            feedback_id, rating = json.loads(line)
            ledger.votes[feedback_id] = rating
        return child
    records = demo.generate(threads=80, seed=100 + round_)
    path = workdir / f"import-{round_}.jsonl"
    path.write_text("\n".join(json.dumps(record) for record in records))
    thread_ids = [record["thread_id"] for record in records if record["kind"] == "thread"]
    events = sum(record["kind"] == "event" for record in records)
    child = run_and_kill(IMPORTER, [db, str(path)], point, timings, importing, env)
    ledger.imports.append((thread_ids, events))
    path.unlink()
    return child
