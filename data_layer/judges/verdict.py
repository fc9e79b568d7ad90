"""What a judge's verdict holds, checked by the same rules wherever it arrives: a judge token's PUT
(`JudgeRepo.put`) and the import (`ingest/verdicts.py`).

The rationale may come as `rationale` or, as a vote's text does, as `comment` (not both). Rubric
scores are an object of criterion name (the queues' rubric names) to a text, a whole number or
true/false; they are kept as the judge gave them, since a judge may score runs that are in no queue:
calibration reads them against the reviewers' criteria (`judges/criteria.py`).
"""

from __future__ import annotations

from data_layer import rules
from data_layer.errors import InvalidInput
from data_layer.queues.rubric import scores_object

MAX_RATIONALE = 20_000
MAX_SCORE_TEXT = 200


def rationale(given: dict) -> str | None:
    """The rationale of a verdict's fields: `rationale`, or `comment` when only that is given."""
    said, commented = given.get("rationale"), given.get("comment")
    if said is not None and commented is not None:
        raise InvalidInput("send the judge's rationale as rationale or as comment, not both")
    if said is None:
        return rules.optional_text(commented, "comment", MAX_RATIONALE)
    return rules.optional_text(said, "rationale", MAX_RATIONALE)


def scores(value) -> str | None:
    """A verdict's rubric scores as the JSON text stored, or None when none is given."""
    given = scores_object(value)
    for name, score in given.items():
        if isinstance(score, str):
            rules.text(score, f"score {name}", MAX_SCORE_TEXT)
        elif not isinstance(score, bool | int):
            raise InvalidInput(
                f"score {name}: {str(score)[:60]!r} is not valid; give a text, a whole number or true/false"
            )
    return rules.json_object(given, "scores") if given else None
