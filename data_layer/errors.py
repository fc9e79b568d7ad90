"""The data layer's errors: one small hierarchy, mapped once to UI messages and HTTP statuses."""


class DataLayerError(Exception):
    """Base of every error the data layer raises on purpose."""

    http_status = 500


class InvalidInput(DataLayerError, ValueError):
    """The caller sent something the rules reject (bad rating, unknown tag, malformed record)."""

    http_status = 400


class NotFound(DataLayerError, LookupError):
    """The thread, run, message or feedback named does not exist (or not where the caller says)."""

    http_status = 404


class Forbidden(DataLayerError, PermissionError):
    """The caller is known but may not do this (a viewer voting, a reviewer deleting another's vote)."""

    http_status = 403


class Conflict(DataLayerError):
    """The write collides with what is stored (a second vote on the same target, a lost race)."""

    http_status = 409


class Unavailable(DataLayerError):
    """The store cannot take the write now: out of space, an I/O error, the server gone. Nothing the
    write reported was committed; the same call may be retried later. Never a `Conflict`: a client
    reads 409 as "you already voted" and would take a lost vote for a saved one."""

    http_status = 503
    retry_after = 30


class StoreUnavailable(Unavailable):
    """The database cannot be opened: locked by another process, unreachable, bad credentials."""


class StoreInUse(StoreUnavailable):
    """The database file is held by another process (DuckDB lets one process open a file)."""


class StoreDamaged(StoreUnavailable):
    """The database file is damaged and does not open; the message names the newest backup and how to restore it."""
