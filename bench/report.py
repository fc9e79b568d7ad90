"""The benchmark's report: the targets, the Markdown table of a result (or of the median of several runs),
and its place in docs/benchmarks.md. `bench.run` measures; this module only reads its JSON."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"

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
        "export_csv": 15000,
    },
}
IMPORT_TARGET = {"duckdb": 100_000, "postgresql": 50_000}  # records per second
GENERATE_TARGET_S = {"duckdb": 180}
MEMORY_TARGET_MIB = 2048


def has_samples(value) -> bool:
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
