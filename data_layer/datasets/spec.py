"""What a dataset snapshot is made of, checked before anything is read or written: its name, the
verdict rule, and the runs it is taken from (the insight pages' filters, or a queue's items).

The filters are the export's (`data_layer.export.TAKES`: time, assistant and model of the run; reviewer,
source and rating of a vote) and the run's status. A dataset's items are runs, so a vote filter picks
the runs holding at least one vote that matches it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from data_layer import export, rules
from data_layer.errors import InvalidInput
from data_layer.filters import Filters

# The verdict rules, each with what it keeps, in words (the dataset card says it).
VERDICTS = {
    "good": "runs whose verdict is good: the reviewers' majority, or a lead's adjudication where there is one",
    "bad": "runs whose verdict is bad: the reviewers' majority, or a lead's adjudication where there is one",
    "corrected": "runs on which a reviewer wrote a corrected answer",
    "disputed-resolved": "runs a lead adjudicated (the reviewers split); the verdict is the lead's",
}
TAKES = (*export.TAKES, "status")
# A name goes into file names and URLs: letters, digits, `_` and `-`.
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}"
_NAME = re.compile(NAME_PATTERN)


def name_of(value) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        shown = value[:60] if isinstance(value, str) else type(value).__name__
        raise InvalidInput(
            f"dataset name {shown!r} is not valid (1-100 characters: letters, digits, _ and -, starting with "
            "a letter or digit)"
        )
    return value


def version_of(value) -> int:
    return rules.integer(value, "version", low=1, high=10**9)


@dataclass(frozen=True)
class DatasetSpec:
    """A snapshot to make: `name`, `verdict` (one of `VERDICTS`), `filters` (a `Filters` or its dict)
    and optionally `queue` (the items of that queue only)."""

    name: str
    verdict: str
    filters: Filters = Filters()
    queue: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "name", name_of(self.name))
        if self.verdict not in VERDICTS:
            raise InvalidInput(f"verdict {str(self.verdict)[:40]!r} is not one of {', '.join(VERDICTS)}")
        object.__setattr__(self, "filters", Filters.of(self.filters, takes=TAKES, reader="a dataset"))
        if self.queue is not None and self.queue != "":
            object.__setattr__(self, "queue", rules.identifier(self.queue, "queue name"))
        else:
            object.__setattr__(self, "queue", None)
