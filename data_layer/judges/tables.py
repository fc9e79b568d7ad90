"""The table of LLM judges' verdicts (schema step 13), apart from people's votes.

Judges' verdicts live in their own table, not in `feedback`: no count of people's votes (the stats,
the threads' tallies, agreement, themes, the review queues' consensus) can take a judge's verdict for
a person's by a missing filter. Each statement may run again (IF NOT EXISTS).
"""

TABLES_SQL = """
-- one verdict per judge (name and version, e.g. helpfulness-v3@gpt-4.1) and target: a whole run
-- (an empty scope) or one of its messages (the scope is the message id), and a new version is a new judge
CREATE TABLE IF NOT EXISTS judge_votes (
    judge_vote_id TEXT PRIMARY KEY,
    judge         TEXT NOT NULL,
    thread_id     TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    message_id    TEXT,
    scope         TEXT NOT NULL,
    rating        SMALLINT NOT NULL CHECK (rating IN (1, -1)),
    rationale     TEXT,
    scores        TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (judge, run_id, scope)
);
CREATE INDEX IF NOT EXISTS judge_votes_run ON judge_votes (run_id);
CREATE INDEX IF NOT EXISTS judge_votes_thread ON judge_votes (thread_id)
"""
