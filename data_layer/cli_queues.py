"""The `queue` commands of the command line (`data_layer.cli`): define, change, list, close and read review
queues."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from data_layer import auth, open_store
from data_layer.errors import InvalidInput
from data_layer.filters import Filters
from data_layer.queues import QueueSpec
from data_layer.queues.rubric import Rubric

_ITEM_FIELDS = ("run_id", "thread_id", "reason", "inclusion_probability", "votes", "consensus")
_ESTIMATE_FIELDS = ("estimate", "low", "high", "sampled_items", "rated_items", "end_user_rate")


def selection(args) -> Filters:
    """The runs a queue selects, from the export's filter options and the queue's own. A queue selects
    runs, not votes: `--source end_user --rating negative` means the runs an end user thumbed down;
    any other vote filter is refused, naming it."""
    complaint = args.source == "end_user" and args.rating == "negative"
    for option in ("reviewer", "source", "rating"):
        if getattr(args, option) and not (complaint and option != "reviewer"):
            raise InvalidInput(
                f"a queue selects runs: --{option} is taken only as --source end_user --rating negative "
                "(runs an end user thumbed down; or use --complaints)"
            )
    return Filters(
        since=args.since,
        until=args.until,
        assistant_id=args.assistant,
        model_name=args.model,
        status=args.status,
        negative_user_feedback=bool(args.complaints or complaint),
        follow_ups_only=bool(args.follow_ups),
    )


def rubric_file(path: str | None) -> Rubric:
    """The rubric of `--rubric FILE.json` (a JSON list of criteria, or an object with `criteria`)."""
    if path is None:
        return Rubric()
    try:
        with open(path, encoding="utf-8") as source:
            return Rubric.of(json.load(source))
    except OSError as error:
        raise InvalidInput(f"cannot read the rubric {path}: {error.strerror}") from error
    except ValueError as error:
        raise InvalidInput(f"the rubric {path} is not JSON: {error}") from error


def cmd_create(args) -> int:
    spec = QueueSpec(
        name=args.name,
        instructions=args.instructions or "",
        selection=selection(args),
        sample_rate=args.sample_rate,
        reviewers_per_item=args.reviewers,
        blind=args.blind,
        seed=args.seed,
        assignees=tuple(name.strip() for name in (args.assignees or "").split(",") if name.strip()),
        rubric=rubric_file(args.rubric),
    )
    with open_store(args.db) as store:
        queue = store.queues.create(spec, actor=auth.SYSTEM)
    print(json.dumps(queue, indent=2) if args.json else f"queue {queue['name']}: {queue['items']} items")
    return 0


def cmd_change(args) -> int:
    fields: dict = {}
    chosen = selection(args)
    if chosen.as_dict():
        fields["selection"] = chosen
    for field, value in (
        ("sample_rate", args.sample_rate),
        ("reviewers_per_item", args.reviewers),
        ("blind", args.blind),
        ("instructions", args.instructions),
    ):
        if value is not None:
            fields[field] = value
    if args.assignees is not None:
        fields["assignees"] = tuple(name.strip() for name in args.assignees.split(",") if name.strip())
    if args.rubric is not None:
        fields["rubric"] = rubric_file(args.rubric)
    if not fields:
        raise InvalidInput("nothing to change: give an option to change (see queue change --help)")
    with open_store(args.db) as store:
        queue = store.queues.change(args.name, actor=auth.SYSTEM, **fields)
    print(json.dumps(queue, indent=2) if args.json else f"queue {queue['name']}: {queue['items']} items")
    return 0


def cmd_list(args) -> int:
    with open_store(args.db) as store:
        queues = store.queues.list(actor=auth.SYSTEM)
    if args.json:
        print(json.dumps(queues, indent=2))
        return 0
    for queue in queues:
        state = "closed" if queue["closed_at"] else "open"
        print(
            f"{queue['name']}\t{state}\t{queue['items']} items\t{queue['done']} done\t"
            f"sample {queue['sample_rate']:.1%}\tk={queue['reviewers_per_item']}\t{'blind' if queue['blind'] else ''}"
        )
    return 0


def cmd_show(args) -> int:
    with open_store(args.db) as store:
        shown = store.queues.get(args.name, actor=auth.SYSTEM)
        shown["progress"] = store.queues.progress(args.name, actor=auth.SYSTEM)
        shown["agreement"] = store.queues.agreement(args.name, actor=auth.SYSTEM)
    print(json.dumps(shown, indent=2))
    return 0


def cmd_close(args) -> int:
    with open_store(args.db) as store:
        queue = store.queues.close(args.name, actor=auth.SYSTEM)
    print(f"queue {queue['name']} closed at {queue['closed_at']}")
    return 0


def cmd_items(args) -> int:
    with open_store(args.db) as store:
        items = store.queues.items(args.name, actor=auth.SYSTEM, limit=args.limit, offset=args.offset)
    for item in items:
        row = {field: item[field] for field in _ITEM_FIELDS}
        print(
            json.dumps(row) if args.json else "\t".join("" if value is None else str(value) for value in row.values())
        )
    return 0


def cmd_estimate(args) -> int:
    with open_store(args.db) as store:
        found = store.queues.estimate(args.name, by=args.by, actor=auth.SYSTEM)
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    for label, part in [("all runs", found), *((str(g[args.by]), g) for g in found.get("groups", []))]:
        if part["estimate"] is None:
            print(f"{label}: no estimate ({part['reason']})")
            continue
        print(
            f"{label}: {part['estimate']:.1%} good (95 % interval {part['low']:.1%} to {part['high']:.1%}), "
            f"{part['rated_items']} of {part['sampled_items']} sampled runs rated, {part['disputed_items']} disputed"
        )
    return 0


def cmd_export(args) -> int:
    fmt = "jsonl" if args.json else args.format
    with open_store(args.db) as store:
        chunks = store.queues.export(args.name, actor=auth.SYSTEM, fmt=fmt)
        if args.output is None:
            for chunk in chunks:
                sys.stdout.write(chunk)
            return 0
        # Written beside the target and renamed when whole: a failed export leaves no half file behind.
        target = Path(args.output)
        partial = target.with_name(f".{target.name}.partial")
        try:
            with open(partial, "w", encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="") as sink:
                for chunk in chunks:
                    sink.write(chunk)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    print(os.path.abspath(target))
    return 0


def add_commands(commands, add_filter_options) -> None:
    """The `queue` command and its actions, under the CLI's `commands`."""
    queue = commands.add_parser("queue", help="review queues", description="Define, list and read review queues.")
    actions = queue.add_subparsers(dest="queue_command", required=True, metavar="ACTION")

    def action(name: str, handler, help_text: str, *, named: bool = True) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--db", help="database path or postgresql:// URL (default: $FEEDBACK_DB)")
        if named:
            sub.add_argument("name", metavar="NAME")
        sub.set_defaults(handler=handler)
        return sub

    create = action("create", cmd_create, "define a queue and fill it from the stored runs")
    create.add_argument("--sample-rate", type=float, default=0.0, help="share of all runs sampled (0 to 1)")
    create.add_argument("--reviewers", type=int, default=1, help="reviewers per item, 1 to 5 (default 1)")
    create.add_argument("--blind", action="store_true", help="reviewers see no other vote before voting")
    create.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    create.add_argument("--instructions", help="markdown shown on every card")
    create.add_argument("--assignees", metavar="A,B,...", help="reviewers of the queue (default: every reviewer)")
    create.add_argument(
        "--rubric",
        metavar="FILE.json",
        help="criteria scored beside the thumbs: a JSON list of {name, kind: binary|ordinal|categorical, "
        "required, description, labels (ordinal: 5), options (categorical)}",
    )
    create.add_argument("--status", help="only runs of this status")
    create.add_argument("--complaints", action="store_true", help="only runs an end user thumbed down")
    create.add_argument("--follow-ups", action="store_true", help="only runs that follow up another")
    create.add_argument("--json", action="store_true", help="print the queue as JSON")
    add_filter_options(create)

    change = action(
        "change",
        cmd_change,
        "change an open queue and let in the runs it now takes: instructions, reviewers per item, blind, "
        "assignees, the selection (any filter option replaces it), a higher sample rate, a rubric with more criteria",
    )
    change.add_argument("--sample-rate", type=float, help="a higher share of all runs sampled (0 to 1)")
    change.add_argument("--reviewers", type=int, help="reviewers per item, 1 to 5")
    change.add_argument("--blind", action=argparse.BooleanOptionalAction, help="blind, or not (--no-blind)")
    change.add_argument("--instructions", help="markdown shown on every card")
    change.add_argument("--assignees", metavar="A,B,...", help="reviewers of the queue (empty: every reviewer)")
    change.add_argument(
        "--rubric", metavar="FILE.json", help="the rubric: its criteria kept as they are, new ones added"
    )
    change.add_argument("--status", help="select runs of this status")
    change.add_argument("--complaints", action="store_true", help="select runs an end user thumbed down")
    change.add_argument("--follow-ups", action="store_true", help="select runs that follow up another")
    change.add_argument("--json", action="store_true", help="print the queue as JSON")
    add_filter_options(change)

    listing = action("list", cmd_list, "list the queues with their progress", named=False)
    listing.add_argument("--json", action="store_true", help="print JSON")
    action("show", cmd_show, "print one queue's definition, progress and agreement as JSON")
    action("close", cmd_close, "close a queue: no run enters it any more")
    items = action("items", cmd_items, "list a queue's items with their votes and consensus")
    items.add_argument("--json", action="store_true", help="one JSON object per line")
    items.add_argument("--limit", type=int, default=100_000)
    items.add_argument("--offset", type=int, default=0)
    dump = action(
        "export",
        cmd_export,
        "write a queue's items, one per row: why each entered, votes, consensus, a lead's verdict and note, "
        "and every reviewer's vote (owner, rating, comment, tags)",
    )
    dump.add_argument("--format", choices=("csv", "jsonl"), default="csv", help="csv (default) or jsonl")
    dump.add_argument("--json", action="store_true", help="the same as --format jsonl")
    dump.add_argument("--output", "-o", metavar="FILE", help="write to FILE (default: standard output)")
    estimate = action("estimate", cmd_estimate, "estimate the share of good runs in all traffic from the sample")
    estimate.add_argument("--by", choices=("assistant_id", "model_name", "week"))
    estimate.add_argument("--json", action="store_true", help="print JSON")
