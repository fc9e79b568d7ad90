"""The command line: `python -m data_layer COMMAND`, a thin face over the same data layer.

Results go to stdout; an error is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from data_layer import config, open_store
from data_layer.errors import DataLayerError


def _progress_printer(total: int | None):
    """A progress bar on stderr for imports of large files (only when stderr is a terminal)."""
    started = time.monotonic()
    interactive = sys.stderr.isatty()

    def show(done: int) -> None:
        if not interactive:
            return
        rate = done / max(time.monotonic() - started, 1e-6)
        if total:
            width = 30
            filled = min(width, int(width * done / total))
            bar = "#" * filled + "-" * (width - filled)
            sys.stderr.write(f"\r[{bar}] {done:,}/{total:,} records  {rate:,.0f}/s")
        else:
            sys.stderr.write(f"\r{done:,} records  {rate:,.0f}/s")
        sys.stderr.flush()

    return show


def _count_lines(path: str) -> int | None:
    if not path.lower().endswith((".jsonl", ".ndjson")) or not os.path.isfile(path):
        return None
    count = 0
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            count += block.count(b"\n")
    return count


def cmd_init(args) -> int:
    with open_store(args.db) as store:
        print(f"schema version {store.schema_version} at {store.url}")
    return 0


def cmd_demo(args) -> int:
    from data_layer import demo

    with open_store(args.db) as store:
        report = demo.seed(store, threads=args.threads, seed=args.seed)
        print(report.summary())
    return 0 if report.ok else 1


def _print_report(label: str, report) -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    if report.ok:
        print(f"{label}: {report.summary()}")
    else:
        print(f"{label}: {report.summary()}", file=sys.stderr)


def cmd_import(args) -> int:
    failed = False
    with open_store(args.db) as store:
        for path in args.files:
            if not os.path.isfile(path):
                print(f"error: {path}: no such file", file=sys.stderr)
                failed = True
                continue
            report = store.import_file(path, progress=_progress_printer(_count_lines(path)))
            _print_report(path, report)
            failed = failed or not report.ok
    return 1 if failed else 0


def cmd_import_deerflow(args) -> int:
    with open_store(args.db) as store:
        report = store.import_deerflow(args.source, progress=_progress_printer(None))
        _print_report(config.redact(args.source), report)
    return 0 if report.ok else 1


def cmd_stats(args) -> int:
    from data_layer import stats

    with open_store(args.db) as store:
        summary = stats.overview(store)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for key, value in summary.items():
            print(f"{key:>20}: {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data_layer", description="The feedback store's command line.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--db", help=f"database path or postgresql:// URL (default: $FEEDBACK_DB or {config.DEFAULT_DB})"
        )
        sub.set_defaults(handler=handler)
        return sub

    command("init", cmd_init, "create or migrate the database schema")

    demo = command("demo", cmd_demo, "write deterministic demo data")
    demo.add_argument("--threads", type=int, default=200, help="number of threads (default 200)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")

    imp = command("import", cmd_import, "import .jsonl, .jsonl.gz, .json or .parquet files (each atomic)")
    imp.add_argument("files", nargs="+", metavar="FILE")

    deer = command("import-deerflow", cmd_import_deerflow, "import a deer-flow gateway database (SQLite file)")
    deer.add_argument("source", metavar="DB_OR_URL")

    stats = command("stats", cmd_stats, "print headline numbers")
    stats.add_argument("--json", action="store_true", help="print JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except DataLayerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except OSError as error:
        print(f"error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
