"""What a review queue is: its name, instructions, selection, sample rate, reviewers per item, blindness,
assignees and seed, checked once when the queue is defined (`QueueSpec`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from data_layer import rules
from data_layer.errors import InvalidInput
from data_layer.filters import Filters
from data_layer.queue import FILTERS as SELECTION
from data_layer.queues.rubric import Rubric

MAX_INSTRUCTIONS = 20_000
MAX_REVIEWERS_PER_ITEM = 5
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class QueueSpec:
    """A queue's definition. Runs enter it when they match its `selection` (the review queue's filters:
    assistant, model, run status, run dates, end users' complaints, follow-ups), or when the run's sample
    point (`membership`) falls under its `sample_rate` (0 for none, up to 1); at least one of the two is
    set. Each item goes to `reviewers_per_item` different reviewers; in a `blind` queue a reviewer sees
    no other vote on a run before voting on it; `assignees` empty means every reviewer. A `rubric` (a
    `Rubric`, or its list of criteria) asks for scores beside the thumbs."""

    name: str
    instructions: str = ""
    selection: Filters = field(default_factory=Filters)
    sample_rate: float = 0.0
    reviewers_per_item: int = 1
    blind: bool = False
    seed: int = 0
    assignees: tuple[str, ...] = ()
    rubric: Rubric = field(default_factory=Rubric)

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "name", rules.identifier(self.name, "queue name"))
        set_(self, "instructions", rules.text(self.instructions or "", "instructions", MAX_INSTRUCTIONS))
        set_(self, "selection", Filters.of(self.selection, takes=SELECTION, reader="a queue's selection"))
        set_(self, "sample_rate", _rate(self.sample_rate))
        set_(
            self,
            "reviewers_per_item",
            rules.integer(self.reviewers_per_item, "reviewers per item", low=1, high=MAX_REVIEWERS_PER_ITEM),
        )
        if type(self.blind) is not bool:
            raise InvalidInput(f"blind must be true or false, got {self.blind!r:.40}")
        set_(self, "seed", rules.integer(self.seed, "seed", low=0, high=MAX_SEED))
        if isinstance(self.assignees, str) or not isinstance(self.assignees, list | tuple):
            raise InvalidInput("assignees must be a list of user ids")
        set_(self, "assignees", tuple(dict.fromkeys(rules.identifier(user, "assignee") for user in self.assignees)))
        set_(self, "rubric", Rubric.of(self.rubric))
        if not self.selection.as_dict() and not self.sample_rate:
            raise InvalidInput(f"queue {self.name} needs a selection or a sample rate above 0")

    def row(self) -> dict:
        """The queue's columns as stored (`queues` table)."""
        return {
            "name": self.name,
            "instructions": self.instructions,
            "selection": json.dumps(self.selection.as_dict(), sort_keys=True),
            "sample_rate": self.sample_rate,
            "reviewers_per_item": self.reviewers_per_item,
            "blind": self.blind,
            "seed": self.seed,
            "assignees": json.dumps(list(self.assignees)),
            "rubric": json.dumps(self.rubric.as_list()),
        }

    @classmethod
    def from_row(cls, row: dict) -> QueueSpec:
        return cls(
            name=row["name"],
            instructions=row["instructions"],
            selection=Filters(**json.loads(row["selection"])),
            sample_rate=row["sample_rate"],
            reviewers_per_item=row["reviewers_per_item"],
            blind=row["blind"],
            seed=row["seed"],
            assignees=tuple(json.loads(row["assignees"])),
            rubric=Rubric.of(row.get("rubric")),
        )


def _rate(value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"sample rate must be a number from 0 to 1, got {value!r:.40}")
    if not 0 <= value <= 1:
        raise InvalidInput(f"sample rate must be from 0 to 1, got {value}")
    return float(value)
