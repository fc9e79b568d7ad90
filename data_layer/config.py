"""Configuration read from the environment (the names are fixed in docs/interfaces)."""

from __future__ import annotations

import os
import re

from data_layer.errors import InvalidInput

DEFAULT_DB = "data/feedback.duckdb"
READ_VARIABLE = "FEEDBACK_DB_READ"
API_MAX_BODY_VARIABLE = "FEEDBACK_API_MAX_BODY"
DEFAULT_API_MAX_BODY = 10 * 1024 * 1024
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def database_url(override: str | None = None) -> str:
    """`--db` wins, then `FEEDBACK_DB`, then the embedded default file."""
    return override or os.environ.get("FEEDBACK_DB") or DEFAULT_DB


def read_database_url(url: str) -> str | None:
    """`FEEDBACK_DB_READ`: a hot standby of `FEEDBACK_DB` for the reads that may lag a moment; None when unset,
    or when the store opened is another database than `FEEDBACK_DB`'s (`--db` names another)."""
    read_url = os.environ.get(READ_VARIABLE, "").strip()
    if not read_url or url != database_url():
        return None
    if not read_url.startswith(("postgresql://", "postgres://")):
        raise InvalidInput(
            f"{READ_VARIABLE} must be a postgresql:// URL of a hot standby, got {redact(read_url)[:60]!r}"
        )
    return read_url


def demo_enabled() -> bool:
    """Seed demo data into an empty database unless `FEEDBACK_DEMO=0`."""
    return os.environ.get("FEEDBACK_DEMO", "1").strip().lower() not in ("0", "false", "no", "off")


def api_max_body() -> int:
    """The largest request body the REST API reads, in bytes: `FEEDBACK_API_MAX_BODY`, default 10 MiB."""
    value = os.environ.get(API_MAX_BODY_VARIABLE, "").strip()
    if not value:
        return DEFAULT_API_MAX_BODY
    if not value.isdigit() or int(value) < 1:
        raise InvalidInput(f"{API_MAX_BODY_VARIABLE} must be a positive number of bytes, got {value[:40]!r}")
    return int(value)


def redact(url: str) -> str:
    """A database URL safe to print: the password never appears in a message or a log line."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"


def duration(text: str, variable: str) -> float:
    """Seconds from `90s`, `30m`, `1h`, `1d` or a number; `0` or `off` for never. `InvalidInput` naming the
    `variable` for anything else."""
    value = text.strip().lower()
    if value in ("0", "off", "no", "false"):
        return 0.0
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd]?)", value)
    if not match:
        raise InvalidInput(f"{variable}={text!r} is not a duration such as 30m, 1h or 1d (0 turns it off)")
    return float(match.group(1)) * _UNITS[match.group(2)]
