"""The notice that demo data was loaded belongs to the process that seeded the store, and to its first
caller only (the first browser session of that start); the browser test in test_browser_threads.py shows
it across sessions and restarts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from data_layer import demo, open_store


def test_the_notice_is_given_once_for_a_seeded_store_and_never_for_another(tmp_path):
    with open_store(str(tmp_path / "seeded.duckdb")) as seeded, open_store(str(tmp_path / "other.duckdb")) as other:
        seeded.seeded_demo = "the import report"  # as shared_store records the seeding it did
        with ThreadPoolExecutor(8) as sessions:
            answers = list(sessions.map(lambda _: demo.first_notice(seeded), range(32)))
        assert answers.count(True) == 1
        assert demo.first_notice(seeded) is False
        assert [demo.first_notice(other) for _ in range(3)] == [False, False, False]
