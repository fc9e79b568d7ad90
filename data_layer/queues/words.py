"""A queue's estimate in words, beside the end users' thumbs over the same runs.

End users vote on few runs, mostly when annoyed; the random sample judges runs whatever anyone felt.
`compare` puts the two side by side for one estimate (`QueueRepo.estimate`, overall or one group):
how many of the sampled runs end users voted on, what share of their votes were down, what share of
all runs the sample says are bad with its 95 % interval as +- points, and the difference.
"""

from __future__ import annotations


def pct(share: float) -> str:
    """A share as a percentage, one decimal under 10 %, whole above."""
    value = share * 100
    return f"{value:.1f} %" if round(value, 1) < 10 else f"{value:.0f} %"


def compare(found: dict) -> str:
    """One sentence (two clauses) from an estimate's fields: `end_user_voted_share`, `end_user_votes`,
    `end_user_rate`, `estimate`, `low`, `high`, `sampled_items`."""
    sampled = int(found.get("sampled_items") or 0)
    if not sampled:
        return (
            "The queue has no randomly sampled run, so it says nothing of all runs and cannot be set beside end users."
        )
    votes, rate = int(found.get("end_user_votes") or 0), found.get("end_user_rate")
    if votes and rate is not None:
        down = 1 - rate
        users = (
            f"end users voted on {pct(found.get('end_user_voted_share') or 0)} of the sampled runs and "
            f"{pct(down)} of those {votes:,} vote{'s' if votes > 1 else ''} were down"
        )
    else:
        down = None
        users = f"end users voted on none of the {sampled:,} sampled runs"
    if found.get("estimate") is None:
        return (
            f"{users[0].upper()}{users[1:]}; the random sample has no judged run yet, so it says nothing of all runs."
        )
    bad = 1 - found["estimate"]
    half = (found["high"] - found["low"]) / 2
    sample = f"the random sample says {pct(bad)} +- {half * 100:.0f} pp of all runs are bad"
    sentence = f"{users[0].upper()}{users[1:]}; {sample}"
    if down is None:
        return sentence + "."
    gap = (down - bad) * 100
    if abs(gap) < 0.5:
        return sentence + ": the end users' share of thumbs-down matches it."
    more = "higher" if gap > 0 else "lower"
    return sentence + f": the end users' share of thumbs-down is {abs(gap):.0f} pp {more}."
