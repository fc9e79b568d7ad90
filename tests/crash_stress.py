"""Stress mode of the crash test, run on demand: hundreds of SIGKILLs spread over writes, checkpoints and log
replays, under background CPU and disk load like the full suite's. Prints the kills, rounds and failures.

    python -m tests.crash_stress --kills 300              # with 1 CPU burner and 1 disk writer
    python -m tests.crash_stress --kills 100 --cpu 0 --io 0

After a failure the broken files are kept (--keep) and the run goes on with a fresh store. Exit 1 on any failure.
"""

from __future__ import annotations

import argparse
import logging
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.crash import PHASES, TEAR, Ledger, Timings, build_torn_write, kill_round, seeded

# Background load: a CPU burner spins; a disk writer writes and syncs large files beside the database, so that
# the kernel throttles other writers (as the suite's imports, PostgreSQL and Chromium do).
_CPU = "while True: pass"
_IO = """
import os, sys
path = os.path.join(sys.argv[1], "load.bin")
block = os.urandom(1 << 20)
while True:
    with open(path, "wb") as out:
        for n in range(256):
            out.write(block)
            if n % 16 == 15:
                os.fsync(out.fileno())
    os.remove(path)
"""


def start_load(cpu: int, io: int, workdir: Path) -> list[subprocess.Popen]:
    load = [subprocess.Popen([sys.executable, "-c", _CPU]) for _ in range(cpu)]
    load += [subprocess.Popen([sys.executable, "-c", _IO, str(workdir)]) for _ in range(io)]
    return load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.crash_stress", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=300, help="kills in all (default 300)")
    every = ",".join((*PHASES, TEAR))
    parser.add_argument("--phases", default=every, help=f"kill phases, in turn (default {every})")
    parser.add_argument("--cpu", type=int, default=1, help="CPU burners beside the test (default 1)")
    parser.add_argument("--io", type=int, default=1, help="disk writers beside the test (default 1)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rounds-per-store", type=int, default=40, help="kills on one store before a fresh one")
    parser.add_argument("--keep", default="crash-failures", help="where the files of a failed round are kept")
    args = parser.parse_args(argv)

    # Each write-back of an interrupted checkpoint is counted below rather than logged.
    logging.getLogger("data_layer.engines.duck").setLevel(logging.ERROR)
    # Stopped from outside, the load processes stop too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    phases = args.phases.split(",")
    rng = random.Random(args.seed)
    kills, landed, failures = Counter(), Counter(), Counter()
    written_back = 0
    examples: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="crash-stress-"))
    env = {}
    if TEAR in phases:
        library = build_torn_write(workdir)
        if library is None:
            print("no C compiler or not Linux: the tear phase is left out", flush=True)
            phases.remove(TEAR)
        else:
            env["TORN_LIBRARY"] = library
    load = start_load(args.cpu, args.io, workdir)
    started = time.monotonic()
    stores = 0
    timings = Timings()
    try:
        round_ = 0
        while round_ < args.kills:
            stores += 1
            db = str(workdir / f"store-{stores}.duckdb")
            targets = seeded(db)
            ledger = Ledger()
            for _ in range(args.rounds_per_store):
                if round_ >= args.kills:
                    break
                phase = phases[round_ % len(phases)]
                importing = (round_ // len(phases)) % 2 == 1
                kind = "importer" if importing else "voter"
                point = timings.draw(phase, importing, rng)
                child = kill_round(db, targets, ledger, round_, point, importing, workdir, timings, env)
                kills[phase] += 1
                landed[phase] += child.reached
                before = ledger.written_back
                problems = ledger.problems(db)
                written_back += ledger.written_back - before
                round_ += 1
                if problems:
                    failures[phase] += 1
                    kept = Path(args.keep) / f"round-{round_}-{phase}"
                    kept.mkdir(parents=True, exist_ok=True)
                    for path in workdir.glob(f"store-{stores}.duckdb*"):
                        shutil.copy2(path, kept / path.name)
                    examples.append(f"round {round_} ({phase}, {kind}): {problems[0]}")
                    print(f"FAILED {examples[-1]} (files in {kept})", flush=True)
                    break
                if round_ % 20 == 0:
                    elapsed = time.monotonic() - started
                    print(f"{round_} kills, {sum(failures.values())} failures, {elapsed:.0f} s", flush=True)
    finally:
        for process in load:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - started
    print(f"\n{sum(kills.values())} kills on {stores} stores in {elapsed:.0f} s (load: {args.cpu} cpu, {args.io} io)")
    print(f"{'phase':<12}{'kills':>7}{'landed':>8}{'failures':>10}")
    for phase in phases:
        print(f"{phase:<12}{kills[phase]:>7}{landed[phase]:>8}{failures[phase]:>10}")
    print(f"opens that wrote an interrupted checkpoint's journaled blocks back: {written_back}")
    for example in examples:
        print(example)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
