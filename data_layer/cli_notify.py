"""The `notify` commands of the command line (`data_layer.cli`): destinations, the delivery log, and one pass
of the sender for cron (`notify run`)."""

from __future__ import annotations

import argparse
import json
import sys

from data_layer import auth, open_store
from data_layer.notify import EVENT_KINDS


def cmd_add_webhook(args) -> int:
    with open_store(args.db) as store:
        added = store.notify.add_webhook(
            args.url,
            events=args.events or EVENT_KINDS,
            assistant_id=args.assistant,
            model_name=args.model,
            source=args.source,
            allow_private=args.allow_private,
            actor=auth.SYSTEM,
        )
    print(f"destination {added['destination_id']}: webhook {added['url']} for {', '.join(added['events'])}")
    print(added["secret"])
    print("The second line is the signing secret: give it to the receiver now, it is not shown again.", file=sys.stderr)
    return 0


def cmd_add_apprise(args) -> int:
    with open_store(args.db) as store:
        added = store.notify.add_apprise(
            args.url, assistant_id=args.assistant, allow_private=args.allow_private, actor=auth.SYSTEM
        )
    print(f"destination {added['destination_id']}: apprise {added['url']} for {', '.join(added['events'])}")
    return 0


def cmd_list(args) -> int:
    with open_store(args.db) as store:
        found = store.notify.destinations(actor=auth.SYSTEM)
    if args.json:
        print(json.dumps(found, indent=2))
    elif not found:
        print("no destinations")
    for row in [] if args.json else found:
        narrowed = ", ".join(f"{key}={row[key]}" for key in ("assistant_id", "model_name", "source") if row[key])
        print(
            f"{row['destination_id']}\t{row['kind']}\t{row['url']}\t{','.join(row['events'])}"
            + (f"\t{narrowed}" if narrowed else "")
            + ("\tallow-private" if row["allow_private"] else "")
        )
    return 0


def cmd_remove(args) -> int:
    with open_store(args.db) as store:
        removed = store.notify.remove(args.id, actor=auth.SYSTEM)
    print(f"destination {removed['destination_id']} removed; its pending deliveries are failed")
    return 0


def cmd_log(args) -> int:
    with open_store(args.db) as store:
        rows = store.notify.deliveries(
            actor=auth.SYSTEM, destination_id=args.destination, status=args.status, limit=args.limit
        )
        if args.attempts:
            for row in rows:
                row["attempt_log"] = store.notify.attempts(row["delivery_id"], actor=auth.SYSTEM)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(
            f"{row['delivery_id']}\t{row['created_at']}\t{row['kind']}\t-> {row['destination_id']}\t{row['status']}"
            f"\tattempts {row['attempts']}\t{row['last_status'] or ''}\t{row['last_error'] or ''}".rstrip()
        )
        for attempt in row.get("attempt_log", []):
            print(
                f"\t{attempt['attempted_at']}\t{attempt['status_code'] or '-'}\t{attempt['duration_ms']:.0f} ms"
                f"\t{attempt['sender']}\t{attempt['error'] or ''}".rstrip()
            )
    return 0


def cmd_send_again(args) -> int:
    with open_store(args.db) as store:
        row = store.notify.send_again(args.id, actor=auth.SYSTEM)
    print(f"delivery {row['delivery_id']} is pending again")
    return 0


def cmd_run(args) -> int:
    with open_store(args.db) as store:
        counts = store.notify.run(actor=auth.SYSTEM, limit=args.limit)
    print(", ".join(f"{count} {name}" for name, count in counts.items()))
    return 0


def add_commands(commands, add_filter_options=None) -> None:
    """The `notify` command and its actions, under the CLI's `commands`."""
    notify = commands.add_parser(
        "notify", help="notifications", description="Where events go (webhooks, apprise), and their delivery log."
    )
    actions = notify.add_subparsers(dest="notify_command", required=True, metavar="ACTION")

    def action(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--db", help="database path or postgresql:// URL (default: $FEEDBACK_DB)")
        sub.set_defaults(handler=handler)
        return sub

    private = "allow a host on a private, loopback or link-local address, or this host (off: refused)"
    webhook = action(
        "add-webhook", cmd_add_webhook, "send events to a URL, signed (Standard Webhooks); prints the secret"
    )
    webhook.add_argument("url", metavar="URL")
    webhook.add_argument("--events", nargs="+", choices=EVENT_KINDS, metavar="KIND", help="default: every kind")
    webhook.add_argument("--assistant", help="only events of this assistant")
    webhook.add_argument("--model", help="only vote events of runs of this model")
    webhook.add_argument("--source", choices=("reviewer", "end_user"), help="only votes from this source")
    webhook.add_argument("--allow-private", action="store_true", help=private)

    chat = action("add-apprise", cmd_add_apprise, "send alerts to a chat or mail target (an apprise URL)")
    chat.add_argument("url", metavar="URL")
    chat.add_argument("--assistant", help="only alerts of this assistant")
    chat.add_argument("--allow-private", action="store_true", help=private)

    listing = action("list", cmd_list, "list the destinations (secrets are never shown)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    remove = action("remove", cmd_remove, "stop sending to a destination")
    remove.add_argument("id", metavar="ID", type=int)

    log = action("log", cmd_log, "the delivery log, newest first")
    log.add_argument("--destination", metavar="ID", type=int, help="only deliveries to this destination")
    log.add_argument("--status", choices=("pending", "delivered", "failed"))
    log.add_argument("--limit", type=int, default=50, help="rows (default 50)")
    log.add_argument("--attempts", action="store_true", help="with every attempt of each delivery")
    log.add_argument("--json", action="store_true", help="print JSON")

    again = action("send-again", cmd_send_again, "put a delivery back in line now")
    again.add_argument("id", metavar="ID", type=int)
    run = action("run", cmd_run, "deliver what is due once (for cron, when the dashboard's sender is off)")
    run.add_argument("--limit", type=int, default=100, help="deliveries at most (default 100)")
