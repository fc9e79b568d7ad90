"""One slice, one number: the positive rate of the same slice read through the data function of
every insight page (Stats, Compare, Agreement, Themes, Export, and the Stats page's alerts) is the
same, because each counts the same votes (whole-run votes of the filters' runs) the same way."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from data_layer import export, insights, stats
from data_layer.auth import SYSTEM
from data_layer.filters import Filters


def test_one_slice_has_one_rate_on_every_page(demo_store):
    last = date.fromisoformat(stats.bounds(demo_store)["last_run_at"][:10])
    since = (last - timedelta(days=27)).isoformat()
    # The last four weeks of data, one model, reviewers only: the slice.
    chosen = Filters(since=since, until=last.isoformat(), model_name="gpt-4.1", source="reviewer")

    with demo_store.engine.read() as conn:
        on_messages = conn.scalar(
            "SELECT count(*) FROM feedback f JOIN runs r ON r.run_id = f.run_id "
            "WHERE f.scope <> '' AND r.model_name = 'gpt-4.1' AND f.source = 'reviewer'"
        )
    assert on_messages > 0  # votes on single messages exist in the slice and must not count

    # Stats: the headline, its per-source split, and the model's bar.
    board = stats.dashboard(demo_store, chosen, actor=SYSTEM)
    head = board["headline"]["current"]
    stats_side = (head["votes"], head["positive"])
    assert stats_side == (head["by_source"]["reviewer"]["votes"], head["by_source"]["reviewer"]["positive"])
    [model_row] = board["by_model"]
    assert (model_row["votes"], model_row["positive"]) == stats_side
    assert sum(row["votes"] for row in board["over_time"]["rows"]) == head["votes"]

    # Compare: the slice as A and B, and the model's row among all models (model picked by the slices).
    compared = insights.compare_slices(demo_store, chosen, chosen)["reviewer"]
    assert (compared["a"]["votes"], compared["a"]["positive"]) == stats_side
    every = insights.compare_all(demo_store, "model_name", replace(chosen, model_name=None))["reviewer"]
    [row] = [row for row in every if row["name"] == "gpt-4.1"]
    assert (row["b"]["votes"], row["b"]["positive"]) == stats_side

    # Agreement and Export show the slice's counts per source: the same function as Compare's.
    counts = insights.slice_counts(demo_store, chosen)["reviewer"]
    assert (counts["votes"], counts["positive"]) == stats_side

    # Export: its rows are every vote; the whole-run ones (no message_id) are the same votes.
    rows = [r for batch in export.batches(demo_store, chosen, actor=SYSTEM) for r in batch.to_pylist()]
    whole = [r for r in rows if r["message_id"] is None]
    assert len(rows) > len(whole)
    assert (len(whole), sum(r["rating"] == 1 for r in whole)) == stats_side

    # The alerts: the days of the range in the daily series add up to the same votes.
    series = insights.daily_series(demo_store, chosen)
    days = [day for rows in series["series"].values() for day in rows if day["day"] >= since]
    assert (sum(d["votes"] for d in days), sum(d["positive"] for d in days)) == stats_side

    # Themes: the reason tags per model are the stats' per assistant, summed (both whole-run votes).
    themes_tags = sum(r["negative"] for r in insights.tags_by(demo_store, "model_name", chosen))
    stats_tags = sum(r["negative"] for r in board["tags_by_assistant"] if r["tag"] != stats.UNTAGGED)
    assert themes_tags == stats_tags > 0


def test_the_alerts_follow_the_filters(demo_store):
    everything = insights.daily_series(demo_store)
    one_model = insights.daily_series(demo_store, {"model_name": "qwen-max-old"})
    total = sum(day["votes"] for rows in everything["series"].values() for day in rows)
    narrowed = sum(day["votes"] for rows in one_model["series"].values() for day in rows)
    assert 0 < narrowed < total
    # the window ends with the filters' last day
    end = (date.fromisoformat(everything["until"]) - timedelta(days=10)).isoformat()
    ended = insights.daily_series(demo_store, {"since": "2000-01-01", "until": end}, days=7)
    assert ended["until"] == end
    shown = [day["day"] for rows in ended["series"].values() for day in rows]
    assert shown and max(shown) <= end
    reviewers_only = insights.daily_series(demo_store, {"source": "reviewer"})
    assert reviewers_only == insights.daily_series(demo_store, source="reviewer")
