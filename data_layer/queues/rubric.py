"""A queue's rubric: the criteria a reviewer scores beside the thumbs, checked once when the queue is
defined (`Criterion`, `Rubric`), and the scores a vote gives them, checked against them (`Rubric.check`).

A criterion is `binary` (yes or no, stored as the text `yes`/`no` and the number 1/0), `ordinal` (an
integer 1 to 5, optionally with a label for each), or `categorical` (one of its options, no number).
The thumbs stays the overall verdict; scores are extra, stored per vote in `vote_scores`
(`data_layer/scores.py`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal, get_args

from data_layer import rules
from data_layer.errors import InvalidInput

Kind = Literal["binary", "ordinal", "categorical"]
KINDS: tuple[Kind, ...] = get_args(Kind)
NAME_PATTERN = r"[a-z][a-z0-9_]{0,39}"
_NAME = re.compile(NAME_PATTERN)
MAX_CRITERIA = 20
MAX_OPTIONS = 20
MAX_DESCRIPTION = 500
MAX_LABEL = 60
SCALE = (1, 2, 3, 4, 5)
_YES = {"yes": 1, "true": 1, "no": 0, "false": 0}


def criterion_name(value, field: str = "criterion") -> str:
    """A criterion's name: a lowercase identifier (`factual`, `tone_ok`), 1-40 characters."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidInput(
            f"{field} {str(value)[:60]!r} is not a criterion name (a-z first, then a-z, 0-9 or _, up to 40)"
        )
    return value


def _labels(value, field: str, count: int | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise InvalidInput(f"{field} must be a list of texts")
    if count is not None and len(value) != count:
        raise InvalidInput(f"{field} must name all {count} points of the scale, got {len(value)}")
    texts = tuple(rules.text(label, field, MAX_LABEL).strip() for label in value)
    if any(not text for text in texts) or len(set(texts)) != len(texts):
        raise InvalidInput(f"{field} must be distinct, non-empty texts")
    return texts


@dataclass(frozen=True)
class Criterion:
    """One criterion: `name`, `kind`, `required`, a short `description`, `labels` for the five points of
    an ordinal one (optional), `options` for a categorical one (2 to MAX_OPTIONS)."""

    name: str
    kind: Kind
    required: bool = False
    description: str = ""
    labels: tuple[str, ...] = ()
    options: tuple[str, ...] = ()

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "name", criterion_name(self.name))
        if self.kind not in KINDS:
            raise InvalidInput(f"criterion {self.name}: kind must be one of {', '.join(KINDS)}, got {self.kind!r:.40}")
        if type(self.required) is not bool:
            raise InvalidInput(f"criterion {self.name}: required must be true or false, got {self.required!r:.40}")
        set_(
            self,
            "description",
            rules.text(self.description or "", f"criterion {self.name}: description", MAX_DESCRIPTION),
        )
        labels = _labels(self.labels or None, f"criterion {self.name}: labels", len(SCALE))
        options = _labels(self.options or None, f"criterion {self.name}: options", None)
        if labels and self.kind != "ordinal":
            raise InvalidInput(f"criterion {self.name}: labels are for an ordinal criterion")
        if self.kind == "categorical" and not 2 <= len(options) <= MAX_OPTIONS:
            raise InvalidInput(f"criterion {self.name}: a categorical criterion needs 2 to {MAX_OPTIONS} options")
        if options and self.kind != "categorical":
            raise InvalidInput(f"criterion {self.name}: options are for a categorical criterion")
        set_(self, "labels", labels)
        set_(self, "options", options)

    def value(self, given) -> tuple[str, float | None]:
        """A score given for this criterion as stored: its text and its number; `InvalidInput` naming the
        criterion and the value when it does not fit."""
        if self.kind == "binary":
            key = str(given).lower() if isinstance(given, bool | str) else None
            if key in _YES:
                number = _YES[key]
                return ("yes" if number else "no"), float(number)
            expected = "yes or no (or true/false)"
        elif self.kind == "ordinal":
            if not isinstance(given, bool) and isinstance(given, int) and given in SCALE:
                return str(given), float(given)
            if isinstance(given, str) and given.strip() in {str(point) for point in SCALE}:
                return given.strip(), float(given)
            expected = "an integer from 1 to 5"
        else:
            if isinstance(given, str) and given in self.options:
                return given, None
            expected = f"one of {', '.join(self.options)}"
        raise InvalidInput(f"score {self.name}: {str(given)[:60]!r} is not valid; expected {expected}")

    def as_dict(self) -> dict:
        shown: dict = {"name": self.name, "kind": self.kind, "required": self.required}
        if self.description:
            shown["description"] = self.description
        if self.labels:
            shown["labels"] = list(self.labels)
        if self.options:
            shown["options"] = list(self.options)
        return shown


def shown(kind: str, text: str, number) -> bool | int | str:
    """A stored score as the API and the pages show it: a binary one as true/false, an ordinal one as
    its integer, a categorical one as its option."""
    if kind == "binary":
        return bool(number)
    if kind == "ordinal":
        return int(number)
    return text


@dataclass(frozen=True)
class Rubric:
    """A queue's criteria, in the order they are shown; names are distinct."""

    criteria: tuple[Criterion, ...] = ()

    def __post_init__(self):
        if isinstance(self.criteria, str) or not isinstance(self.criteria, list | tuple):
            raise InvalidInput("a rubric is a list of criteria")
        if len(self.criteria) > MAX_CRITERIA:
            raise InvalidInput(f"a rubric has at most {MAX_CRITERIA} criteria, got {len(self.criteria)}")
        criteria = tuple(_criterion(item) for item in self.criteria)
        names = [criterion.name for criterion in criteria]
        doubled = sorted({name for name in names if names.count(name) > 1})
        if doubled:
            raise InvalidInput(f"a rubric names each criterion once; {doubled[0]} is named twice")
        object.__setattr__(self, "criteria", criteria)

    @classmethod
    def of(cls, value) -> Rubric:
        """A rubric from a `Rubric`, a list of criteria (dicts), a JSON text of that list, or None (empty)."""
        if isinstance(value, Rubric):
            return value
        if value is None or value == "":
            return cls()
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as error:
                raise InvalidInput(f"a rubric is a JSON list of criteria: {error}") from error
        if isinstance(value, dict) and "criteria" in value:
            value = value["criteria"]
        return cls(tuple(value) if isinstance(value, list) else value)

    def __bool__(self) -> bool:
        return bool(self.criteria)

    def get(self, name: str) -> Criterion | None:
        return next((criterion for criterion in self.criteria if criterion.name == name), None)

    def as_list(self) -> list[dict]:
        return [criterion.as_dict() for criterion in self.criteria]

    def check(self, scores, *, require: bool) -> list[dict]:
        """The scores given (an object of criterion name to value) as rows to store: `criterion`, `kind`,
        `value`, `number`. `InvalidInput` names an unknown criterion, a value that does not fit, and with
        `require` a required criterion left out."""
        given = scores_object(scores)
        rows = []
        for name, value in given.items():
            criterion = self.get(name)
            if criterion is None:
                known = ", ".join(c.name for c in self.criteria) or "none"
                raise InvalidInput(f"score {name}: no such criterion in the rubric (its criteria: {known})")
            text, number = criterion.value(value)
            rows.append({"criterion": name, "kind": criterion.kind, "value": text, "number": number})
        if require:
            missing = [c.name for c in self.criteria if c.required and given.get(c.name) is None]
            if missing:
                raise InvalidInput(f"score {missing[0]} is required by the rubric; give {', '.join(missing)}")
        return rows


def scores_object(scores) -> dict:
    """`scores` as given, checked to be an object of criterion names (a null value counts as not given)."""
    if scores is None:
        return {}
    if not isinstance(scores, dict):
        raise InvalidInput(f"scores must be an object of criterion name to value, got {type(scores).__name__}")
    if len(scores) > MAX_CRITERIA:
        raise InvalidInput(f"scores name at most {MAX_CRITERIA} criteria, got {len(scores)}")
    return {criterion_name(name, "score"): value for name, value in scores.items() if value is not None}


def _criterion(item) -> Criterion:
    if isinstance(item, Criterion):
        return item
    if not isinstance(item, dict):
        raise InvalidInput(f"a criterion is an object, got {type(item).__name__}")
    unknown = sorted(set(item) - {"name", "kind", "required", "description", "labels", "options"})
    if unknown:
        raise InvalidInput(f"criterion {str(item.get('name'))[:40]}: unknown field {unknown[0][:40]!r}")
    if "name" not in item or "kind" not in item:
        raise InvalidInput("a criterion needs a name and a kind")
    return Criterion(
        name=item["name"],
        kind=item["kind"],
        required=item.get("required", False),
        description=item.get("description") or "",
        labels=tuple(item["labels"]) if isinstance(item.get("labels"), list) else item.get("labels") or (),
        options=tuple(item["options"]) if isinstance(item.get("options"), list) else item.get("options") or (),
    )
