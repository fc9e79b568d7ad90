"""Run the whole benchmark at one scale and write its JSON result (and, with --docs, the Markdown table).

    python -m bench.run --scale small
    python -m bench.run --scale large --engines duckdb,postgresql --docs

Steps, each in its own process so that each reports its own peak memory: generate the dataset on
each engine (a DuckDB file; a PostgreSQL database through the engine's COPY), copy the DuckDB rows
into the SQLite baseline, then, engine by engine and after every engine has settled, time every
operation group (DuckDB and PostgreSQL through the public data_layer API, SQLite with equivalent
SQL). Imports come last, since they add rows. PostgreSQL is a throwaway server started for the run
(tests/pg_server.py, as the `postgres` user, with durable commits) unless --pg-url names an empty
database. Files live in a temporary folder unless --keep is given. The table and the docs are
`bench/report.py`'s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.generate import SCALES, database_bytes
from bench.report import ENGINES, combine, has_samples, markdown, update_docs
from tests.pg_server import PostgresServer, find_binaries

ROOT = Path(__file__).resolve().parent.parent
GROUPS = ("browse", "search", "upsert", "stats", "export", "import", "import_real")

SQLITE_LARGE_REPS = 2
# The benchmark server keeps PostgreSQL's durable defaults (fsync, synchronous commit, full page
# writes), unlike the test server, so that an upsert pays for its commit as in production; it gets
# the memory a small dedicated server would have, and WAL room for the bulk load.
PG_SETTINGS = {
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "shared_buffers": "1GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "256MB",
    "max_wal_size": "4GB",
}
# Slow operations on the unindexed paths must be measured, not cut off by the engine's 30 s default.
_CHILD_ENV = {**os.environ, "FEEDBACK_PG_STATEMENT_TIMEOUT_MS": "900000"}


def _child(module: str, *args: str) -> dict:
    command = [sys.executable, "-m", module, *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=_CHILD_ENV)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarize(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": round(statistics.median(ordered), 3), "p95": round(p95, 3), "n": len(ordered)}


def machine() -> dict:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(pages / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
    }


def run(
    scale: str, engines: list[str], folder: Path, reps: int, pg_url: str | None = None, pg_settings: dict | None = None
) -> dict:
    """Generate and measure on every engine named; `pg_url` is an empty PostgreSQL database when one is,
    `pg_settings` what our own server was started with (None for a server given by URL)."""
    duck = folder / f"bench-{scale}.duckdb"
    lite = folder / f"bench-{scale}.sqlite"
    for path in (duck, lite, Path(f"{duck}.wal")):
        path.unlink(missing_ok=True)
    where = {"duckdb": str(duck), "postgresql": pg_url}
    result: dict = {
        "scale": scale,
        "sizes": vars(SCALES[scale]),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "engines": {},
        "generate": {},
    }
    import duckdb

    result["versions"] = {"duckdb": duckdb.__version__}
    if "postgresql" in engines:
        result["versions"]["postgresql"] = _server_version(pg_url)
        result["postgresql_settings"] = pg_settings or "the server's own (--pg-url)"
    for engine in ("duckdb", "postgresql"):
        if engine in engines:
            result["generate"][engine] = _child("bench.generate", "--scale", scale, "--db", where[engine])
            print(f"generated {scale} on {engine} in {result['generate'][engine]['seconds']} s", file=sys.stderr)
    if "sqlite" in engines:
        result["sqlite_build"] = _child(
            "bench.sqlite_baseline", "--build", "--duckdb", str(duck), "--sqlite", str(lite)
        )
        print(f"built SQLite baseline in {result['sqlite_build']['seconds']} s", file=sys.stderr)
    real = folder / "real-text"
    real.mkdir(exist_ok=True)
    for engine in engines:
        raw, memory = {}, {}
        settled = _settle(engines, where)
        for group in GROUPS:
            started = time.perf_counter()
            if engine == "sqlite":
                args = ("bench.sqlite_baseline", "--sqlite", str(lite))
                # at the large scale each baseline threads page takes seconds: fewer repetitions
                engine_reps = min(reps, SQLITE_LARGE_REPS) if scale == "large" else reps
            else:
                args = ("bench.measure", "--db", where[engine])
                engine_reps = reps
            more = ("--real-files", str(real)) if group == "import_real" else ()
            found = _child(*args, "--group", group, "--scale", scale, "--reps", str(engine_reps), *more)
            memory[group] = found.pop("max_rss_mib")
            raw.update(found)
            print(f"{engine} {group}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
        ops = {name: summarize(values) for name, values in raw.items() if has_samples(values)}
        extra = {name: value for name, value in raw.items() if not has_samples(value)}
        if engine == "sqlite":
            file_bytes = lite.stat().st_size
        else:
            file_bytes = database_bytes(where[engine])
        result["engines"][engine] = {
            "ops": ops,
            "extra": extra,
            "max_rss_mib": memory,
            "file_bytes": file_bytes,
            "raw_ms": raw,
            "settle_s": settled,
            "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        }
    if "duckdb" in engines:
        duck_ops = result["engines"]["duckdb"]["ops"]
        for engine in ("sqlite", "postgresql"):
            if engine in engines:
                other = result["engines"][engine]["ops"]
                result[f"{engine}_over_duckdb"] = {
                    name: round(other[name]["median"] / duck_ops[name]["median"], 2)
                    for name in duck_ops
                    if name in other and duck_ops[name]["median"] > 0 and name != "import_records_per_s"
                }
    result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return result


def _settle(engines: list[str], where: dict) -> float:
    """Let every engine finish what its last load left to do, so that the next engine is measured with the
    others idle: PostgreSQL's `VACUUM ANALYZE` and `CHECKPOINT` (else its checkpointer and autovacuum go on
    writing out a bulk load for minutes), DuckDB's checkpoint. Returns the seconds it took."""
    started = time.perf_counter()
    if "postgresql" in engines:
        import psycopg

        with psycopg.connect(where["postgresql"], autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            conn.execute("CHECKPOINT")
    if "duckdb" in engines:
        import duckdb

        with duckdb.connect(where["duckdb"]) as conn:
            conn.execute("CHECKPOINT")
    return round(time.perf_counter() - started, 1)


def _server_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SHOW server_version").fetchone()[0].split()[0]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=SCALES, default="small")
    parser.add_argument(
        "--engines", default="duckdb,sqlite", help="comma-separated, any of: duckdb, postgresql, sqlite"
    )
    parser.add_argument("--pg-url", help="an empty PostgreSQL database to use instead of a throwaway server")
    parser.add_argument("--out", help="result JSON (default bench/results/SCALE-TIMESTAMP.json)")
    parser.add_argument("--reps", type=int, default=10, help="repetitions per operation (more for the cheap ones)")
    parser.add_argument("--keep", help="keep the DuckDB and SQLite files in this folder instead of a temporary one")
    parser.add_argument("--docs", action="store_true", help="rewrite this run's results table in docs/benchmarks.md")
    parser.add_argument(
        "--combine", nargs="+", metavar="JSON", help="print (and with --docs write) the median of these runs' results"
    )
    args = parser.parse_args(argv)
    if args.combine:
        result = combine([json.loads(Path(path).read_text(encoding="utf-8")) for path in args.combine])
        print(markdown(result))
        if args.docs:
            update_docs(result)
        return
    engines = [name.strip() for name in args.engines.split(",") if name.strip()]
    if not engines or not set(engines) <= set(ENGINES):
        parser.error(f"--engines takes a comma-separated list of {', '.join(ENGINES)}")
    if "sqlite" in engines and "duckdb" not in engines:
        parser.error("the SQLite baseline is copied from the DuckDB dataset: add duckdb to --engines")
    engines = [engine for engine in ENGINES if engine in engines]
    if args.pg_url and "postgresql" not in engines:
        engines.append("postgresql")
    binaries = find_binaries()
    if "postgresql" in engines and not args.pg_url and binaries is None:
        parser.error("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: install postgresql or give --pg-url")
    out = (
        Path(args.out)
        if args.out
        else ROOT / "bench" / "results" / f"{args.scale}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    server = None
    try:
        pg_url = args.pg_url
        if "postgresql" in engines and not pg_url:
            server = PostgresServer(binaries, PG_SETTINGS)
            pg_url = server.create_database("bench")
        result = run(args.scale, engines, folder, args.reps, pg_url, None if args.pg_url else PG_SETTINGS)
    finally:
        if server is not None:
            server.stop()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(markdown(result))
    print(f"\nwrote {out}", file=sys.stderr)
    if args.docs:
        update_docs(result)


if __name__ == "__main__":
    main()
