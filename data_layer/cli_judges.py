"""The `judges` command of the command line (`data_layer.cli`): each LLM judge's numbers against people."""

from __future__ import annotations

import json

from data_layer import auth, open_store

_FIELDS = (
    "judge",
    "judged_runs",
    "raw_rate",
    "calibration_runs",
    "sensitivity",
    "specificity",
    "kappa",
    "corrected_rate",
    "corrected_low",
    "corrected_high",
    "reason",
)


def _pct(value) -> str:
    return "-" if value is None else f"{value:.1%}"


def cmd_judges(args) -> int:
    with open_store(args.db) as store:
        judges = store.judges.summary(actor=auth.SYSTEM, sampled_only=not args.all_runs)
    if args.json:
        print(json.dumps([{field: judge[field] for field in _FIELDS} for judge in judges], indent=2))
        return 0
    for judge in judges:
        corrected = (
            f"corrected {_pct(judge['corrected_rate'])} ({_pct(judge['corrected_low'])} to "
            f"{_pct(judge['corrected_high'])})"
            if judge["corrected_rate"] is not None
            else f"not corrected: {judge['reason']}"
        )
        print(
            f"{judge['judge']}: {judge['judged_runs']} runs, raw {_pct(judge['raw_rate'])} good, {corrected}; "
            f"{judge['calibration_runs']} calibration runs, sensitivity {_pct(judge['sensitivity'])}, "
            f"specificity {_pct(judge['specificity'])}"
        )
    return 0


def add_commands(commands) -> None:
    """The `judges` command, under the CLI's `commands`."""
    help_text = (
        "each LLM judge's pass rate, raw and corrected for its errors, and its hit rates against people's "
        "verdicts on randomly sampled runs"
    )
    judges = commands.add_parser("judges", help=help_text, description=help_text)
    judges.add_argument("--db", help="database path or postgresql:// URL (default: $FEEDBACK_DB)")
    judges.add_argument("--json", action="store_true", help="print a JSON array, one object per judge")
    judges.add_argument(
        "--all-runs",
        action="store_true",
        help="calibrate on every run people rated, not only randomly sampled ones (runs picked for complaints "
        "bias the hit rates)",
    )
    judges.set_defaults(handler=cmd_judges)
