"""Run the whole benchmark at one scale and write its JSON result (and, with --docs, the Markdown table).

    python -m bench.run --scale small
    python -m bench.run --scale large --docs

Steps, each in its own process so that each reports its own peak memory: generate the DuckDB
file, copy the same rows into the SQLite baseline, then time every operation group on DuckDB
(through the public data_layer API) and on SQLite (equivalent SQL). Imports come last, since
they add rows. Files live in a temporary folder unless --keep is given.
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

from bench.generate import SCALES

ROOT = Path(__file__).resolve().parent.parent
GROUPS = ("browse", "search", "upsert", "stats", "export", "import")
DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"

# (operation prefix, target median in ms, or None) for the Markdown table; import is a rate.
TARGETS = {
    "threads_page": 50,
    "thread_count": 50,
    "open_thread": 30,
    "search": 300,
    "search_count": 300,
    "feedback_upsert": 10,
    "stats_all": 250,
    "export_csv": 5000,
    "import_jsonl": None,
}
IMPORT_TARGET = 100_000  # records per second
GENERATE_TARGET_S = 180
MEMORY_TARGET_MIB = 2048
SQLITE_LARGE_REPS = 2


def _child(module: str, *args: str) -> dict:
    command = [sys.executable, "-m", module, *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
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


def run(scale: str, engines: list[str], folder: Path, reps: int) -> dict:
    duck = folder / f"bench-{scale}.duckdb"
    lite = folder / f"bench-{scale}.sqlite"
    for path in (duck, lite, Path(f"{duck}.wal")):
        path.unlink(missing_ok=True)
    result: dict = {
        "scale": scale,
        "sizes": vars(SCALES[scale]),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "engines": {},
    }
    import duckdb

    result["versions"] = {"duckdb": duckdb.__version__}
    result["generate"] = _child("bench.generate", "--scale", scale, "--db", str(duck))
    print(f"generated {scale} in {result['generate']['seconds']} s", file=sys.stderr)
    if "sqlite" in engines:
        result["sqlite_build"] = _child(
            "bench.sqlite_baseline", "--build", "--duckdb", str(duck), "--sqlite", str(lite)
        )
        print(f"built SQLite baseline in {result['sqlite_build']['seconds']} s", file=sys.stderr)
    for engine in engines:
        raw, memory = {}, {}
        for group in GROUPS:
            started = time.perf_counter()
            if engine == "duckdb":
                args = ("bench.measure", "--db", str(duck))
                engine_reps = reps
            else:
                args = ("bench.sqlite_baseline", "--sqlite", str(lite))
                # at the large scale each baseline threads page takes seconds: fewer repetitions
                engine_reps = min(reps, SQLITE_LARGE_REPS) if scale == "large" else reps
            found = _child(*args, "--group", group, "--scale", scale, "--reps", str(engine_reps))
            memory[group] = found.pop("max_rss_mib")
            raw.update(found)
            print(f"{engine} {group}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
        ops = {name: summarize(values) for name, values in raw.items() if _samples(values)}
        extra = {name: value for name, value in raw.items() if not _samples(value)}
        file_bytes = (duck if engine == "duckdb" else lite).stat().st_size
        result["engines"][engine] = {
            "ops": ops,
            "extra": extra,
            "max_rss_mib": memory,
            "file_bytes": file_bytes,
            "raw_ms": raw,
        }
    if len(engines) == 2:
        duck_ops, lite_ops = (result["engines"][name]["ops"] for name in ("duckdb", "sqlite"))
        result["sqlite_over_duckdb"] = {
            name: round(lite_ops[name]["median"] / duck_ops[name]["median"], 2)
            for name in duck_ops
            if name in lite_ops and duck_ops[name]["median"] > 0 and name != "import_records_per_s"
        }
    result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return result


def _samples(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, (int, float)) for item in value)


def _target(name: str):
    return TARGETS.get(name.split("[")[0])


def markdown(result: dict) -> str:
    duck = result["engines"]["duckdb"]
    lite = result["engines"].get("sqlite")
    ratios = result.get("sqlite_over_duckdb", {})
    m = result["machine"]
    lines = [
        f"Scale `{result['scale']}` ({result['sizes']['threads']:,} threads, {result['sizes']['runs']:,} runs, "
        f"{result['sizes']['events']:,} message events, {result['sizes']['feedback']:,} votes from "
        f"{result['sizes']['reviewers']} reviewers), run {result['started_at']} on {m['cores']} cores, "
        f"{m['memory_gib']} GiB RAM, load average at start {m['load_average_at_start']}, DuckDB "
        f"{result['versions']['duckdb']}.",
        "",
        "| operation | median ms | p95 ms | target | met | SQLite median ms | SQLite / DuckDB |",
        "|---|---:|---:|---|---|---:|---:|",
    ]
    for name, stats in duck["ops"].items():
        if name == "import_records_per_s":
            continue
        target = _target(name)
        met = "" if target is None else ("yes" if stats["median"] < target else "**no**")
        base = lite["ops"].get(name, {}).get("median", "") if lite else ""
        lines.append(
            f"| {name} | {stats['median']:,.1f} | {stats['p95']:,.1f} | {f'< {target:,} ms' if target else ''} | "
            f"{met} | {base if base == '' else f'{base:,.1f}'} | {ratios.get(name, '')} |"
        )
    rate = duck["ops"].get("import_records_per_s")
    if rate:
        base_rate = lite["ops"]["import_records_per_s"]["median"] if lite else ""
        met = "yes" if rate["median"] > IMPORT_TARGET else "**no**"
        lines.append(
            f"| import records/s | {rate['median']:,.0f} | | > {IMPORT_TARGET:,} | {met} | {base_rate:,.0f} | |"
        )
    generate = result["generate"]
    lines.append(
        f"| generate dataset (s) | {generate['seconds']} | | < {GENERATE_TARGET_S} s | "
        f"{'yes' if generate['seconds'] < GENERATE_TARGET_S else '**no**'} | | |"
    )
    peak = max([generate["max_rss_mib"], *duck["max_rss_mib"].values()])
    lines += [
        f"| peak memory, any step (MiB) | {peak:,.0f} | | < {MEMORY_TARGET_MIB:,} | "
        f"{'yes' if peak < MEMORY_TARGET_MIB else '**no**'} | | |",
        "",
        f"Peak memory per step (MiB): generate {generate['max_rss_mib']:,.0f}, "
        + ", ".join(f"{group} {value:,.0f}" for group, value in duck["max_rss_mib"].items())
        + f". DuckDB file {duck['file_bytes'] / 2**20:,.0f} MiB"
        + (f", SQLite file {lite['file_bytes'] / 2**20:,.0f} MiB." if lite else "."),
    ]
    return "\n".join(lines)


def update_docs(result: dict, path: Path = DOCS) -> None:
    """Replace the generated section of docs/benchmarks.md, keeping the hand-written text around it."""
    text = path.read_text(encoding="utf-8") if path.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(f"{head}{START}\n{markdown(result)}\n{END}{tail}", encoding="utf-8")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=SCALES, default="small")
    parser.add_argument("--engines", default="duckdb,sqlite", help="comma-separated: duckdb, sqlite")
    parser.add_argument("--out", help="result JSON (default bench/results/SCALE-TIMESTAMP.json)")
    parser.add_argument("--reps", type=int, default=10, help="repetitions per operation (more for the cheap ones)")
    parser.add_argument("--keep", help="keep the database files in this folder instead of a temporary one")
    parser.add_argument("--docs", action="store_true", help="rewrite the results section of docs/benchmarks.md")
    args = parser.parse_args(argv)
    engines = [name.strip() for name in args.engines.split(",") if name.strip()]
    if "duckdb" not in engines or not set(engines) <= {"duckdb", "sqlite"}:
        parser.error("--engines must include duckdb, and may add sqlite")
    out = (
        Path(args.out)
        if args.out
        else ROOT / "bench" / "results" / f"{args.scale}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.keep:
        folder = Path(args.keep)
        folder.mkdir(parents=True, exist_ok=True)
        result = run(args.scale, engines, folder, args.reps)
    else:
        folder = Path(tempfile.mkdtemp(prefix="bench-"))
        try:
            result = run(args.scale, engines, folder, args.reps)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(markdown(result))
    print(f"\nwrote {out}", file=sys.stderr)
    if args.docs:
        update_docs(result)


if __name__ == "__main__":
    main()
