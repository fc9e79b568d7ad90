"""PostgreSQL's own statements of the migration steps (data_layer/schema.py), by step version.

The steps' shared SQL stays in schema.py; what only PostgreSQL runs (trigram indexes, the indexes of the
search tables, ANALYZE after a fill) is added to the step of that version by `schema.Step.for_engine`.
"""

from __future__ import annotations


def _if_trigrams(statements: str) -> str:
    """A PostgreSQL block running `statements` only where pg_trgm is installed (step 5 installs it if it can)."""
    return f"""
            DO $$
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
                    {statements}
                END IF;
            END
            $$;
            """


STEP_SQL: dict[int, str] = {
    # The search filter is `ILIKE '%word%'`: a trigram GIN index answers it on PostgreSQL (about
    # 40 ms instead of 300 ms at 150,000 events). pg_trgm ships with PostgreSQL and is a trusted
    # extension; where it cannot be installed, search still works, by scanning.
    5: """
            DO $$
            BEGIN
                CREATE EXTENSION IF NOT EXISTS pg_trgm;
            EXCEPTION WHEN OTHERS THEN
                RAISE NOTICE 'pg_trgm is not available (%): message search scans', SQLERRM;
            END
            $$;
            """
    + _if_trigrams(
        """CREATE INDEX run_events_text_trgm ON run_events USING gin (text gin_trgm_ops)
                        WHERE category = 'message';
                    CREATE INDEX threads_title_trgm ON threads USING gin (title gin_trgm_ops);"""
    ),
    7: _if_trigrams("CREATE INDEX message_terms_trgm ON message_terms USING gin (term gin_trgm_ops);"),
    # Built after the fill of the search index.
    9: """
            CREATE UNIQUE INDEX search_threads_thread ON search_threads (thread_id);
            CREATE INDEX search_threads_no ON search_threads (thread_no);
            -- hash, not btree: a word can be longer than a btree entry may be
            CREATE INDEX search_words_word ON search_words USING hash (word);
            CREATE INDEX search_words_id ON search_words (word_id);
            CREATE INDEX message_terms_word ON message_terms (word_id, thread_no);
            CREATE INDEX message_pairs_words ON message_pairs (first_id, second_id, thread_no);
            """
    + _if_trigrams("CREATE INDEX search_words_trgm ON search_words USING gin (word gin_trgm_ops);")
    + """
            ANALYZE search_threads;
            ANALYZE search_words;
            ANALYZE message_terms;
            ANALYZE message_pairs
            """,
    # The sender looks for due deliveries every few seconds in every replica, and an import finds its new events
    # by their time: a partial index keeps the first to the pending rows (DuckDB scans the columns).
    14: """
            CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
            CREATE INDEX IF NOT EXISTS outbox_created ON outbox (created_at)
            """,
    # The threads page and the stats at the large scale (docs/benchmarks.md, "PostgreSQL at the large scale").
    # Each sort of the threads list is an index, so that a page is the first rows of an index walk instead of a
    # top-N sort of every thread; the run filters and "not reviewed by" are indexes led by the filter's value, so
    # that a count reads the matching entries alone instead of every run's or vote's row. The stats read the
    # runs through narrow indexes holding the columns they count (index-only scans, instead of the heap whose
    # rows carry each run's first question and last answer): every run's time and tallies, the runs two
    # reviewers or more rated (agreement), and the runs with a thumbs-down in the order of the worst runs.
    17: """
            CREATE INDEX IF NOT EXISTS threads_last_activity
                ON threads (last_activity_at DESC NULLS LAST, thread_id DESC);
            CREATE INDEX IF NOT EXISTS threads_title ON threads (title, thread_id);
            CREATE INDEX IF NOT EXISTS threads_negative ON threads (negative DESC NULLS LAST, thread_id DESC)
                WHERE negative > 0;
            CREATE INDEX IF NOT EXISTS runs_status_thread ON runs (status, thread_id);
            CREATE INDEX IF NOT EXISTS runs_model_thread ON runs (model_name, thread_id);
            CREATE INDEX IF NOT EXISTS feedback_owner_thread ON feedback (owner_id, thread_id);
            CREATE INDEX IF NOT EXISTS runs_stats ON runs (created_at) INCLUDE (assistant_id, model_name, status,
                followed_up, reviewer_positive, reviewer_negative, end_user_positive, end_user_negative);
            CREATE INDEX IF NOT EXISTS runs_panel ON runs (created_at) INCLUDE (assistant_id, model_name,
                panel_positive, panel_negative) WHERE panel_positive + panel_negative >= 2;
            CREATE INDEX IF NOT EXISTS runs_negative
                ON runs ((reviewer_negative + end_user_negative) DESC, created_at DESC, run_id)
                WHERE reviewer_negative + end_user_negative > 0;
            ANALYZE threads;
            ANALYZE runs;
            ANALYZE feedback
            """,
}
