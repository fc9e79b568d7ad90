"""Judges' verdicts as export rows: what `export` lists when its source filter asks for `judge`.

The verdicts (`judge_votes`) are read in the shape of the votes the export lists (alias `f`, the vote
columns `export.COLUMNS` reads), so every column, filter, slice and the blind rule apply to them as they
are: `reviewer` is the judge, `source` is `judge`, `comment` and `tags` are people's and empty here.
Two columns belong to verdicts: `judge` (the judge's name and version) and `rationale`; they are in
a judge export's columns by default and empty on people's votes. A `score.<criterion>` cell holds the
judge's score for that criterion as it gave it (`true`, `4`, `curt`).
"""

from __future__ import annotations

import pyarrow as pa

from data_layer.filters import JUDGE_SOURCE, Filters

SOURCE = JUDGE_SOURCE

# The verdicts with the vote columns' names, and the judges' own columns.
VERDICTS = """(SELECT judge_vote_id AS feedback_id, thread_id, run_id, judge AS owner_id, message_id, scope, rating,
       CAST(NULL AS TEXT) AS comment, CAST(ARRAY[] AS TEXT[]) AS tags, 'judge' AS source, created_at, updated_at,
       judge, rationale, scores
FROM judge_votes)"""

# name: (the SQL on people's votes, the SQL on verdicts, the type, the help)
COLUMNS = {
    "judge": ("CAST(NULL AS TEXT)", "f.judge", pa.string(), "the judge (name@version), empty for people's votes"),
    "rationale": ("CAST(NULL AS TEXT)", "f.rationale", pa.string(), "the judge's rationale, empty for people's votes"),
}


def score_sql(index: int) -> str:
    """A verdict's score for the criterion named by the parameter `$score_<index>`, as text."""
    return f"CAST(f.scores AS JSON) ->> CAST($score_{index} AS TEXT)"


def judged(filters) -> bool:
    """Whether an export with `filters` (a `Filters`, its dict or None) lists judges' verdicts (its
    source filter asks for `judge`) rather than people's votes."""
    return Filters.of(filters).source == SOURCE


def select(name: str, verdicts: bool, score: int | None = None) -> str:
    """The SQL of a judges' column or, with `score`, of the score of the criterion `$score_<score>`, over
    people's votes (whose scores are the pivot's columns `sc.s<n>`, `export._SCORES`) or over `verdicts`."""
    if score is not None:
        return score_sql(score) if verdicts else f"sc.s{score}"
    return COLUMNS[name][1 if verdicts else 0]
