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


class StoreUnavailable(DataLayerError):
    """The database cannot be opened: locked by another process, unreachable, bad credentials."""

    http_status = 503
