"""Run the whole benchmark at one scale and write its JSON result (and, with --docs, the Markdown table).

    python -m bench.run --scale small
    python -m bench.run --scale large --engines duckdb,postgresql --docs

Steps, each in its own process so that each reports its own peak memory: generate the dataset on
each engine (a DuckDB file; a PostgreSQL database through the engine's COPY), copy the DuckDB rows
into the SQLite baseline, then time every operation group on each engine (DuckDB and PostgreSQL
through the public data_layer API, SQLite with equivalent SQL). Imports come last, since they add
rows. PostgreSQL is a throwaway server started for the run (tests/pg_server.py, as the `postgres`
user, with durable commits) unless --pg-url names an empty database. Files live in a temporary
folder unless --keep is given.
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
from tests.pg_server import PostgresServer, find_binaries

ROOT = Path(__file__).resolve().parent.parent
GROUPS = ("browse", "search", "upsert", "stats", "export", "import", "import_real")
DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"

ENGINES = ("duckdb", "postgresql", "sqlite")
LABELS = {"duckdb": "DuckDB", "postgresql": "PostgreSQL", "sqlite": "SQLite"}

# (operation prefix -> target median in ms, or None) for the Markdown table; import is a rate.
# DuckDB's are issue 7's (the embedded default on one machine), PostgreSQL's issue 10's.
TARGETS = {
    "duckdb": {
        "threads_page": 50,
        "thread_count": 50,
        "open_thread": 30,
        "search": 300,
        "search_count": 300,
        "feedback_upsert": 10,
        "stats_all": 250,
        "export_csv": 5000,
    },
    "postgresql": {
        "threads_page": 100,
        "thread_count": 100,
        "open_thread": 50,
        "search": 300,
        "search_count": 300,
        "feedback_upsert": 10,
        "stats_all": 500,
    },
}
IMPORT_TARGET = {"duckdb": 100_000, "postgresql": 50_000}  # records per second
GENERATE_TARGET_S = {"duckdb": 180}
MEMORY_TARGET_MIB = 2048
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
        ops = {name: summarize(values) for name, values in raw.items() if _samples(values)}
        extra = {name: value for name, value in raw.items() if not _samples(value)}
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


def _samples(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, (int, float)) for item in value)


def _target(engine: str, name: str):
    return TARGETS.get(engine, {}).get(name.split("[")[0])


def _ms(value) -> str:
    return "" if value is None else f"{value:,.1f}"


# A target met by a few percent on one machine is not met: each must hold with this margin.
MARGIN = 0.2


def _met(target, value, *, above: bool = False) -> str:
    if target is None or value is None:
        return ""
    if value > target * (1 + MARGIN) if above else value < target * (1 - MARGIN):
        return "yes"
    if value > target if above else value < target:
        return "**no** (within 20 %)"
    return "**no**"


def combine(results: list[dict]) -> dict:
    """One result from several runs on the same code: per engine and operation the median of the runs'
    medians and of their p95, the generation's median time; each run's start and load average kept."""
    base = json.loads(json.dumps(results[0]))
    for engine, data in base["engines"].items():
        runs = [result["engines"][engine] for result in results if engine in result["engines"]]
        for name, stats in data["ops"].items():
            found = [run["ops"][name] for run in runs if name in run["ops"]]
            stats["median"] = round(statistics.median(item["median"] for item in found), 3)
            stats["p95"] = round(statistics.median(item["p95"] for item in found), 3)
            stats["n"] = sum(item["n"] for item in found)
        for name in data["extra"]:
            values = [run["extra"][name] for run in runs if isinstance(run["extra"].get(name), (int, float))]
            if values:
                data["extra"][name] = round(statistics.median(values))
        for step in data["max_rss_mib"]:
            data["max_rss_mib"][step] = statistics.median(run["max_rss_mib"][step] for run in runs)
        data["load_average_at_start"] = [run.get("load_average_at_start") for run in runs]
        if engine in base["generate"]:
            seconds = [result["generate"][engine]["seconds"] for result in results if engine in result["generate"]]
            base["generate"][engine]["seconds"] = round(statistics.median(seconds), 2)
            peaks = [result["generate"][engine]["max_rss_mib"] for result in results if engine in result["generate"]]
            base["generate"][engine]["max_rss_mib"] = statistics.median(peaks)
    base["runs"] = [
        {"started_at": result["started_at"], "load_average_at_start": result["machine"]["load_average_at_start"]}
        for result in results
    ]
    for engine in ("sqlite", "postgresql"):
        if f"{engine}_over_duckdb" in base:
            duck_ops, other = base["engines"]["duckdb"]["ops"], base["engines"][engine]["ops"]
            base[f"{engine}_over_duckdb"] = {
                name: round(other[name]["median"] / duck_ops[name]["median"], 2)
                for name in duck_ops
                if name in other and duck_ops[name]["median"] > 0
            }
    return base


def markdown(result: dict) -> str:
    engines = [engine for engine in ENGINES if engine in result["engines"]]
    timed_engines = [engine for engine in engines if engine != "sqlite"]
    m = result["machine"]
    sizes = result["sizes"]
    versions = ", ".join(
        f"{LABELS[name]} {version}" for name, version in result["versions"].items() if name in result["engines"]
    )
    header, rule = ["operation"], ["---"]
    for engine in engines:
        label = LABELS[engine]
        if engine == "sqlite":
            header += [f"{label} median ms"]
            rule += ["---:"]
        else:
            header += [f"{label} median ms", f"{label} p95 ms", f"{label} target", "met"]
            rule += ["---:", "---:", "---", "---"]
    ratios = [engine for engine in ("postgresql", "sqlite") if f"{engine}_over_duckdb" in result]
    header += [f"{LABELS[engine]} / DuckDB" for engine in ratios]
    rule += ["---:"] * len(ratios)
    lines = [
        f"Scale `{result['scale']}` ({sizes['threads']:,} threads, {sizes['runs']:,} runs, "
        f"{sizes['events']:,} message events, {sizes['feedback']:,} votes from {sizes['reviewers']} reviewers), "
        + (
            f"median of {len(result['runs'])} runs started "
            + ", ".join(f"{run['started_at']} (load {run['load_average_at_start']})" for run in result["runs"])
            if result.get("runs")
            else f"run {result['started_at']} (load average at start {m['load_average_at_start']})"
        )
        + f" on {m['cores']} cores, {m['memory_gib']} GiB RAM, {versions}.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(rule) + "|",
    ]
    names = list(dict.fromkeys(name for engine in engines for name in result["engines"][engine]["ops"]))
    for name in names:
        if name.startswith(("import_records_per_s", "import_real_records_per_s")):
            continue
        cells = [name]
        for engine in engines:
            stats = result["engines"][engine]["ops"].get(name, {})
            if engine == "sqlite":
                cells.append(_ms(stats.get("median")))
                continue
            target = _target(engine, name)
            cells += [
                _ms(stats.get("median")),
                _ms(stats.get("p95")),
                f"< {target:,} ms" if target else "",
                _met(target, stats.get("median")),
            ]
        cells += [str(result[f"{engine}_over_duckdb"].get(name, "")) for engine in ratios]
        lines.append("| " + " | ".join(cells) + " |")
    cells = ["import records/s"]
    for engine in engines:
        rate = result["engines"][engine]["ops"].get("import_records_per_s", {}).get("median")
        text = "" if rate is None else f"{rate:,.0f}"
        if engine == "sqlite":
            cells.append(text)
            continue
        target = IMPORT_TARGET.get(engine)
        cells += [text, "", f"> {target:,}/s" if target else "", _met(target, rate, above=True)]
    lines.append("| " + " | ".join(cells + [""] * len(ratios)) + " |")
    for where in ("empty store", "large store"):
        name = f"import_real_records_per_s[{where}]"
        baseline = result["engines"].get("sqlite", {}).get("ops", {}).get(name, {}).get("median")
        if not any(name in result["engines"][engine]["ops"] for engine in engines):
            continue
        cells = [f"real-text import records/s, {where}"]
        for engine in engines:
            rate = result["engines"][engine]["ops"].get(name, {}).get("median")
            text = "" if rate is None else f"{rate:,.0f}"
            if engine == "sqlite":
                cells.append(text)
                continue
            # DuckDB's target is the SQLite baseline's rate on the same file; PostgreSQL's its import target.
            target = baseline if engine == "duckdb" else IMPORT_TARGET.get(engine)
            label = "> SQLite's" if engine == "duckdb" else f"> {IMPORT_TARGET[engine]:,}/s"
            cells += [text, "", label if target else "", _met(target, rate, above=True)]
        lines.append("| " + " | ".join(cells + [""] * len(ratios)) + " |")
    cells = ["import records/s with the checkpoint after (sustained)"]
    for engine in engines:
        rate = result["engines"][engine]["extra"].get("import_sustained_records_per_s")
        text = "" if rate is None else f"{rate:,.0f}"
        cells += [text] if engine == "sqlite" else [text, "", "", ""]
    lines.append("| " + " | ".join(cells + [""] * len(ratios)) + " |")
    cells = ["generate dataset (s)"]
    for engine in engines:
        if engine == "sqlite":
            build = result.get("sqlite_build", {}).get("seconds")
            cells.append("" if build is None else f"{build} (copy)")
            continue
        seconds = result["generate"][engine]["seconds"]
        target = GENERATE_TARGET_S.get(engine)
        cells += [f"{seconds}", "", f"< {target} s" if target else "", _met(target, seconds)]
    lines.append("| " + " | ".join(cells + [""] * len(ratios)) + " |")
    cells = ["peak memory of our process, any step (MiB)"]
    for engine in engines:
        peak = max(result["engines"][engine]["max_rss_mib"].values())
        if engine == "sqlite":
            cells.append(f"{peak:,.0f}")
            continue
        peak = max(peak, result["generate"][engine]["max_rss_mib"])
        cells += [f"{peak:,.0f}", "", f"< {MEMORY_TARGET_MIB:,}", _met(MEMORY_TARGET_MIB, peak)]
    lines.append("| " + " | ".join(cells + [""] * len(ratios)) + " |")
    lines.append("")
    for engine in timed_engines:
        data = result["engines"][engine]
        steps = {"generate": result["generate"][engine]["max_rss_mib"], **data["max_rss_mib"]}
        lines.append(
            f"{LABELS[engine]}: peak memory per step (MiB) "
            + ", ".join(f"{step} {value:,.0f}" for step, value in steps.items())
            + f"; database {data['file_bytes'] / 2**20:,.0f} MiB."
        )
    lines.append(
        "Load average at the start of each engine's measurements (each measured alone, after every engine "
        "settled): "
        + ", ".join(
            f"{LABELS[engine]} {result['engines'][engine].get('load_average_at_start', '?')}" for engine in engines
        )
        + "."
    )
    if "sqlite" in engines:
        lines.append(f"SQLite: file {result['engines']['sqlite']['file_bytes'] / 2**20:,.0f} MiB.")
    if "postgresql" in engines:
        settings = result.get("postgresql_settings")
        described = (
            ", ".join(f"{key}={value}" for key, value in settings.items()) if isinstance(settings, dict) else settings
        )
        lines.append(
            f"PostgreSQL memory is our client process only (the server's processes are not counted); "
            f"server settings: {described}."
        )
    return "\n".join(lines)


def _markers(section: str) -> tuple[str, str]:
    return f"<!-- results:{section}:start -->", f"<!-- results:{section}:end -->"


def section_name(result: dict) -> str:
    """Each scale and set of engines keeps its own generated table in docs/benchmarks.md."""
    return "-".join([result["scale"], *(engine for engine in ENGINES if engine in result["engines"])])


def update_docs(result: dict, path: Path = DOCS) -> None:
    """Replace this run's generated section of docs/benchmarks.md (appended after the last one when new),
    keeping the hand-written text around it."""
    write_section(section_name(result), markdown(result), path)


def write_section(section: str, table: str, path: Path = DOCS) -> None:
    """Put `table` between the markers of `section` in `path`, or after the last generated section
    when the markers are not there yet."""
    start, end = _markers(section)
    body = f"{start}\n{table}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if start in text:
        head, rest = text.split(start, 1)
        text = head + body + rest.split(end, 1)[1]
    else:
        cut = text.rfind(":end -->")
        cut = len(text) if cut < 0 else cut + len(":end -->")
        text = f"{text[:cut]}\n\n{body}{text[cut:]}"
    path.write_text(text, encoding="utf-8")


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
