"""The `dataset` commands of the command line (`data_layer.cli`): make, list and write out evaluation
datasets (`data_layer.datasets`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os

from data_layer import auth, datasets, open_store


def cmd_create(args) -> int:
    filters = dataclasses.replace(args.filters_of(args), status=args.status)
    with open_store(args.db) as store:
        made = datasets.create(
            store, args.name, verdict=args.verdict, filters=filters, queue=args.queue, actor=auth.SYSTEM
        )
    if args.json:
        print(json.dumps(made, indent=2))
    else:
        counts = made["counts"]
        print(
            f"dataset {made['name']} version {made['version']}: {made['items']} items "
            f"({counts['good']} good, {counts['bad']} bad, {counts['corrected']} corrected)"
        )
    return 0


def cmd_list(args) -> int:
    with open_store(args.db) as store:
        found = datasets.listing(store, actor=auth.SYSTEM)
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    for dataset in found:
        print(
            f"{dataset['name']}\tv{dataset['version']}\t{dataset['items']} items\t{dataset['verdict']}\t"
            f"{dataset['created_at']}\t{dataset['created_by']}"
        )
    return 0


def cmd_export(args) -> int:
    with open_store(args.db) as store:
        target = datasets.write_file(store, args.name, args.version, args.format, args.output, actor=auth.SYSTEM)
    print(os.path.abspath(target))
    return 0


def add_commands(commands, add_filter_options, filters_of) -> None:
    """The `dataset` command and its actions, under the CLI's `commands`; `add_filter_options` and
    `filters_of` are the export's filter options and their `Filters`."""
    dataset = commands.add_parser(
        "dataset",
        help="evaluation datasets of reviewed runs",
        description="Make, list and write out evaluation datasets: named snapshots of reviewed runs that never "
        "change (a new snapshot of a name is its next version).",
    )
    actions = dataset.add_subparsers(dest="dataset_command", required=True, metavar="ACTION")

    def action(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--db", help="database path or postgresql:// URL (default: $FEEDBACK_DB)")
        sub.set_defaults(handler=handler)
        return sub

    create = action(
        "create", cmd_create, "save the runs of the filters (or of a queue) that a verdict rule keeps as a new version"
    )
    create.add_argument("name", metavar="NAME", help="letters, digits, _ and -")
    create.add_argument(
        "--verdict",
        required=True,
        metavar="RULE",
        help=f"which runs to keep: {', '.join(datasets.VERDICTS)} (disputed-resolved: runs a lead adjudicated)",
    )
    create.add_argument("--queue", metavar="QUEUE", help="only the items of this queue")
    create.add_argument("--status", help="only runs of this status")
    create.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    add_filter_options(create)
    create.set_defaults(filters_of=filters_of)

    listing = action("list", cmd_list, "list every snapshot, newest version first")
    listing.add_argument("--json", action="store_true", help="print JSON")

    export = action("export", cmd_export, "write one file of a snapshot (replaced only when complete)")
    export.add_argument("name", metavar="NAME")
    export.add_argument("--version", type=int, help="default: the newest")
    export.add_argument(
        "--format",
        required=True,
        choices=tuple(datasets.FORMATS),
        help="jsonl (one item per line), parquet, or card (the README.md)",
    )
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write")
