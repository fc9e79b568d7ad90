"""The command line: `python -m data_layer COMMAND`, or `feedback-review COMMAND` once the package is
installed; a thin face over the same data layer.

Results go to stdout; an error is one line on stderr and a non-zero exit. Whoever runs it holds
the database itself, so it acts as `auth.SYSTEM`, named `system` in the audit trail.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from data_layer import auth, cli_datasets, cli_judges, cli_notify, cli_queues, config, open_store
from data_layer.errors import DataLayerError, InvalidInput, StoreDamaged, StoreInUse, StoreUnavailable
from data_layer.filters import Filters


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
        report = demo.seed(store, threads=args.threads, seed=args.seed, actor=auth.SYSTEM)
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
            report = store.import_file(path, actor=auth.SYSTEM, progress=_progress_printer(_count_lines(path)))
            _print_report(path, report)
            failed = failed or not report.ok
    return 1 if failed else 0


def cmd_import_deerflow(args) -> int:
    with open_store(args.db) as store:
        report = store.import_deerflow(args.source, actor=auth.SYSTEM, progress=_progress_printer(None))
        _print_report(config.redact(args.source), report)
    return 0 if report.ok else 1


def cmd_stats(args) -> int:
    from data_layer import stats

    if args.notify and not args.alerts:
        raise InvalidInput("--notify goes with --alerts: stats --alerts --notify")
    if args.alerts:
        return _print_alerts(args)
    with open_store(args.db) as store:
        summary = stats.overview(store)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for key, value in summary.items():
            print(f"{key:>20}: {value}")
    return 0


def _print_alerts(args) -> int:
    """Days below an assistant's p-chart band in the last 28 days; exit 1 when there is one (for cron). With
    `--notify`, each alert not raised before is raised to the notification destinations and delivered."""
    from data_layer import insights

    with open_store(args.db) as store:
        found = insights.alerts(store)
        if args.notify:
            raised = store.notify.check_alerts(actor=auth.SYSTEM)
            counts = store.notify.run(actor=auth.SYSTEM)
            print(
                f"{len(raised)} new alert(s) raised; deliveries: "
                + ", ".join(f"{count} {name}" for name, count in counts.items()),
                file=sys.stderr,
            )
    if args.json:
        print(json.dumps(found, indent=2))
    elif not found:
        print("no alerts: no assistant had a day below its control band in the last 28 days")
    for row in [] if args.json else found:
        print(
            f"ALERT {row['day']} {row['assistant_id']}: {row['rate']:.0%} positive of {row['votes']} votes, "
            f"expected {row['expected']:.0%} (band from {row['low']:.0%})"
        )
    return 1 if found else 0


def cmd_token_new(args) -> int:
    token = auth.new_token()
    entry = auth.token_entry(args.user, args.role, token)
    print(token)
    print(entry)
    print(
        f"Give the first line to the caller (it is shown only this once); add the second to "
        f"{auth.TOKENS_VARIABLE} (comma-separated, environment or .streamlit/secrets.toml).",
        file=sys.stderr,
    )
    return 0


# The filter options (`--since`, `--assistant`, ...) and the `Filters` field each one sets.
FILTER_OPTIONS = {
    "since": "since",
    "until": "until",
    "assistant": "assistant_id",
    "model": "model_name",
    "reviewer": "reviewer",
    "source": "source",
    "rating": "rating",
}


def _add_filter_options(sub: argparse.ArgumentParser, *, judges: bool = False) -> None:
    sub.add_argument("--since", metavar="DATE", help="runs created on or after this date (YYYY-MM-DD or ISO time)")
    sub.add_argument("--until", metavar="DATE", help="runs created up to this date, inclusive (or before an ISO time)")
    sub.add_argument("--assistant", help="only runs of this assistant")
    sub.add_argument("--model", help="only runs of this model")
    sub.add_argument("--reviewer", help="only votes by this reviewer (owner id)")
    sources: tuple[str, ...]
    if judges:
        sources, said = ("reviewer", "end_user", "judge"), "only votes from this source (judge: judges' verdicts)"
    else:
        sources, said = ("reviewer", "end_user"), "only votes from this source"
    sub.add_argument("--source", choices=sources, help=said)
    sub.add_argument("--rating", choices=("positive", "negative"), help="only thumbs-up or only thumbs-down")


def _filters(args) -> Filters:
    """The `Filters` of the filter options given (`InvalidInput` naming a bad one)."""
    return Filters(**{field: getattr(args, option) for option, field in FILTER_OPTIONS.items()})


def cmd_export(args) -> int:
    from data_layer import export

    columns = [name.strip() for name in args.columns.split(",") if name.strip()] if args.columns else None
    with open_store(args.db) as store:
        export.write(store, args.output, args.format, _filters(args), actor=auth.SYSTEM, columns=columns)
    print(os.path.abspath(args.output))
    return 0


# `check`'s exit codes besides 0 (sound) and 1 (an invariant broken, or another error): the file is held by
# another process (nothing is wrong with it), or it is damaged and does not open (restore a backup).
EXIT_IN_USE = 3
EXIT_DAMAGED = 4


def cmd_check(args) -> int:
    from data_layer.integrity import check

    try:
        store = open_store(args.db)
    except StoreInUse as error:
        print(f"in use: {error}", file=sys.stderr)
        return EXIT_IN_USE
    except StoreDamaged as error:
        print(f"damaged: {error}", file=sys.stderr)
        return EXIT_DAMAGED
    with store:
        if store.engine.recovered:
            print(f"recovered: {store.engine.recovered}")
        problems = check(store)
    for name, count in problems.items():
        print(f"{count} rows: {name}", file=sys.stderr)
    if not problems:
        print(f"ok: {store.url} passes every integrity check")
    return 1 if problems else 0


def cmd_backup(args) -> int:
    from data_layer import backup

    if args.api:
        return _backup_through_api(args)
    with open_store(args.db) as store:
        manifest = backup.backup(store, args.dest)
    rows = ", ".join(f"{count} {table}" for table, count in manifest["counts"].items())
    print(f"backup written to {os.path.abspath(args.dest)}: {rows}")
    return 0


def _backup_through_api(args) -> int:
    """DuckDB lets only the running dashboard open its file: ask that process for the copy."""
    import urllib.error
    import urllib.request

    token = os.environ.get("FEEDBACK_API_TOKEN", "")
    if not token:
        raise InvalidInput("--api needs an admin token in FEEDBACK_API_TOKEN")
    request = urllib.request.Request(
        args.api.rstrip("/") + "/admin/backup",
        data=json.dumps({"name": args.dest}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            manifest = json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = json.loads(error.read() or b"{}").get("detail", error.reason)
        raise InvalidInput(f"the dashboard refused the backup ({error.code}): {detail}") from None
    except urllib.error.URLError as error:
        raise StoreUnavailable(f"cannot reach the dashboard at {args.api}: {error.reason}") from None
    rows = ", ".join(f"{count} {table}" for table, count in manifest["counts"].items())
    print(f"backup written by the dashboard to {manifest['path']}: {rows}")
    return 0


def cmd_restore(args) -> int:
    from data_layer import backup

    with open_store(args.db) as store:
        manifest = backup.restore(store, args.src)
        print(f"restored {os.path.abspath(args.src)} (taken {manifest['created_at']}) into {store.url}")
    return 0


# The console command `pip install .` makes (pyproject.toml, [project.scripts]).
COMMAND = "feedback-review"


def _prog() -> str:
    """The name usage lines and errors give: the installed command when that is how it was run."""
    return COMMAND if os.path.basename(sys.argv[0]) == COMMAND else "python -m data_layer"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=_prog(), description="The feedback store's command line.")
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

    deer = command(
        "import-deerflow",
        cmd_import_deerflow,
        "import a deer-flow gateway database (SQLite file, or postgresql:// URL: incremental)",
    )
    deer.add_argument("source", metavar="DB_OR_URL")

    stats = command("stats", cmd_stats, "print headline numbers")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.add_argument(
        "--alerts", action="store_true", help="list days below an assistant's control band (exit 1 when any)"
    )
    stats.add_argument(
        "--notify",
        action="store_true",
        help="with --alerts: raise each alert not raised before to the notification destinations, and deliver",
    )

    command(
        "check",
        cmd_check,
        f"run the store's integrity check: exit 0 sound, 1 an invariant broken, {EXIT_IN_USE} the file is in use "
        f"by another process, {EXIT_DAMAGED} the file is damaged (restore a backup)",
    )
    back = command("backup", cmd_backup, "write a consistent copy of every table (Parquet) to a new directory")
    back.add_argument("dest", metavar="DEST", help="a new directory; with --api, a name in the server's backup dir")
    back.add_argument(
        "--api",
        metavar="URL",
        help="ask the running dashboard (e.g. http://localhost:8501/api) to write it (admin token: FEEDBACK_API_TOKEN)",
    )
    rest = command("restore", cmd_restore, "load a backup directory into an empty database")
    rest.add_argument("src", metavar="SRC")

    exp = command("export", cmd_export, "write feedback with its run and thread context to CSV, Parquet or JSONL")
    exp.add_argument(
        "--format",
        choices=("csv", "parquet", "jsonl"),
        help="default: from the file extension; CSV writes times as YYYY-MM-DD HH:MM:SS in UTC in columns named "
        "*_utc, Parquet and JSONL to the microsecond",
    )
    exp.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write (replaced when complete)")
    _add_filter_options(exp, judges=True)
    exp.add_argument("--columns", metavar="A,B,...", help="comma-separated columns (default: all)")

    cli_queues.add_commands(commands, _add_filter_options)
    cli_notify.add_commands(commands)
    cli_judges.add_commands(commands)
    cli_datasets.add_commands(commands, _add_filter_options, _filters)

    token = commands.add_parser("token", help="REST API tokens", description="REST API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    new = token_commands.add_parser(
        "new",
        help="print a fresh token and its FEEDBACK_API_TOKENS entry",
        description="Print a fresh token (line 1) and the FEEDBACK_API_TOKENS entry holding its SHA-256 (line 2).",
    )
    new.add_argument("user", metavar="USER", help="the user id the token's votes are stored under")
    new.add_argument("--role", choices=auth.TOKEN_ROLES, default=auth.DEFAULT_ROLE, help=f"default {auth.DEFAULT_ROLE}")
    new.set_defaults(handler=cmd_token_new)
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
