"""Generate a benchmark dataset of any size, fast: numpy arrays turned into Arrow tables, bulk-loaded.

The rows are what the importer would have stored for the same records (message events with plain
text content, a run's message summary taken from its events, follow-ups detected), but they skip
the importer's per-record validation: `conn.load(table, arrow_table)` appends each chunk straight
into the table inside `store.engine.write(...)`. The threads' rollup columns (title, run_count,
last_activity_at, positive, negative) are then filled by one SQL UPDATE, as the importer's last
merge step does, and the words of the messages go into the search index with the engine's own
statement, as the importer does for the events it stores. This shortcut is for generating benchmark
data only; real data goes through `store.import_file`. The same code fills a PostgreSQL database
(an empty one, given by URL): there `conn.load` is the engine's `COPY`, and the tables are analyzed
at the end, as autovacuum would.

    python -m bench.generate --scale small --db /tmp/bench.duckdb
    python -m bench.generate --scale small --db postgresql://user:pw@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data_layer import open_store, rollups
from data_layer.schema import REASON_TAGS


@dataclass(frozen=True)
class Scale:
    threads: int
    runs: int
    events: int
    feedback: int
    reviewers: int
    import_records: int
    # Records per file of real-length text (bench/realtext.py): fewer below the large scale, where
    # CI runs them on every engine.
    real_records: int = 100_000


LARGE = Scale(
    threads=100_000, runs=1_000_000, events=5_000_000, feedback=1_000_000, reviewers=50, import_records=100_000
)
SCALES = {
    "large": LARGE,
    "small": Scale(1_000, 10_000, 50_000, 10_000, 50, 20_000, real_records=2_000),
    "tiny": Scale(100, 1_000, 5_000, 1_000, 50, 2_000, real_records=500),
}

ANCHOR = datetime(2026, 11, 1, 18, 0, tzinfo=UTC)
DAYS = 120
ASSISTANTS = ("research-agent", "coding-agent", "support-agent", "sales-agent", "ops-agent")
MODELS = ("gpt-4.1", "claude-sonnet-4", "deepseek-v3", "qwen-max-old", "gemini-2.5", "llama-4")
WORSE_MODEL = "qwen-max-old"
STATUSES = ("success", "error", "timeout", "interrupted")
STATUS_WEIGHTS = (0.86, 0.07, 0.04, 0.03)
ERRORS = {
    "error": "RateLimitError: 429 Too Many Requests from the model provider",
    "timeout": "Run exceeded the 120 s budget while waiting for a tool",
    "interrupted": "Interrupted by the user",
}
END_USERS = 2_000
CHUNK_EVENTS = 250_000
MEMORY_LIMIT = "900MB"
INDEX_MEMORY_LIMIT = "1GB"

# Words the search benchmark looks for: common ("invoice", about 5% of human messages), rare
# ("kubernetes", about 0.05%) and absent ("zeppelinxq", a full scan that finds nothing).
SEARCH_TERMS = ("invoice", "kubernetes", "zeppelinxq", "outdated pricing")

_ADJECTIVES = (
    "monthly annual shared legacy encrypted nested empty broken duplicate cached remote local signed "
    "expired pending archived private public draft final partial weekly daily regional default custom "
    "primary backup staging mobile"
).split()
_OBJECTS = (
    "invoice password workspace report dashboard pipeline config webhook token export import schedule "
    "subscription cluster database backup table chart query index migration notebook ticket refund "
    "payment plan account team role permission branch release build test deploy log alert metric "
    "vector embedding prompt"
).split()
_QUESTIONS = (
    "How do I fix the {a} when the {b} does not load?",
    "Why does my {a} fail after I changed the {b}?",
    "Can you compare the {a} with the {b} for a small team?",
    "Summarize what changed in the {a} since the last {b}.",
    "Write a Python function that reads the {a} and returns the {b}.",
    "My {a} shows the {b} twice, can you fix it?",
    "What is the fastest way to move the {a} to the new {b}?",
    "Explain the error in the {a} that mentions the {b}.",
)
_ANSWERS = (
    "Here is what I found about the {a}. First, check that the {b} is enabled in the settings. "
    "Then open the {a} page and choose Resend. If that does not help, the {b} may be cached: "
    "clear it and try again. Sources: the vendor documentation and a 2025 benchmark.",
    "The {a} fails because the {b} expects a different format. Convert the dates to ISO 8601, "
    "make sure every row has an id, and retry. A short example follows in the next message.",
    "Short answer: the {a} is simpler to run, the {b} grows further with replicas. For a small team "
    "the {a} wins on setup time; hosting costs dominate either way.",
    "I could not reproduce the problem with the {a}. Please share the {b} you used and the exact "
    "error text, and I will look again. Meanwhile the outdated pricing page may explain the totals.",
)
_TOOL_RESULTS = (
    '{{"results": ["{a} overview", "{b} notes", "release history"]}}',
    '{{"rows": 42, "source": "{a}", "matched": "{b}"}}',
    '{{"status": "ok", "items": ["{a}", "{b}"], "elapsed_ms": 812}}',
)
_GOOD_COMMENTS = ("Clear and correct answer.", "Good use of the tool results.", "Concise, runs as is.", "回答准确。")
_BAD_COMMENTS = (
    "Outdated information: cites the 2021 pricing page.",
    "Did not answer the actual question.",
    "Took far too many tool calls.",
    "Too verbose, buries the answer.",
    "信息过时，引用的是旧版本的文档。",
)
_TS = pa.timestamp("us", tz="UTC")


def _pool(templates, rng: np.random.Generator, size: int, rare_every: int = 0) -> pa.Array:
    """`size` sentences from the templates and random noun phrases; every `rare_every`-th mentions kubernetes."""
    out = []
    for index in range(size):
        a = f"{_ADJECTIVES[rng.integers(len(_ADJECTIVES))]} {_OBJECTS[rng.integers(len(_OBJECTS))]}"
        b = f"{_ADJECTIVES[rng.integers(len(_ADJECTIVES))]} {_OBJECTS[rng.integers(len(_OBJECTS))]}"
        text = templates[index % len(templates)].format(a=a, b=b)
        if rare_every and index % rare_every == 0:
            text += " It runs on kubernetes."
        out.append(text)
    return pa.array(out, pa.string())


def _ids(rng: np.random.Generator, count: int) -> pa.Array:
    """Random uuid-shaped ids, so that insertion order says nothing about id order (as in real data)."""
    high = rng.integers(0, 2**63, count, dtype=np.int64)
    low = rng.integers(0, 2**63, count, dtype=np.int64)
    return pa.array(
        [
            f"{h:016x}"[:8]
            + "-"
            + f"{h:016x}"[8:12]
            + "-4"
            + f"{h:016x}"[13:16]
            + f"-{lo:016x}"[:5]
            + f"-{lo:016x}"[5:]
            for h, lo in zip(high.tolist(), low.tolist())
        ],
        pa.string(),
    )


def _with_ref(texts: pa.Array, numbers: np.ndarray, label: str) -> pa.Array:
    """Make each text unique with a number, as real messages are (no free wins from dictionary compression)."""
    suffix = pc.binary_join_element_wise(f" ({label}", pc.cast(pa.array(numbers), pa.string()), ")", "")
    return pc.if_else(pc.equal(texts, ""), texts, pc.binary_join_element_wise(texts, suffix, ""))


def _times(base: np.ndarray) -> pa.Array:
    return pa.array(base.astype("datetime64[us]"), _TS)


def _first_index(groups: np.ndarray, count: int) -> np.ndarray:
    """For sorted group numbers, the index of each group's first row (count+1 entries, cumulative)."""
    return np.concatenate(([0], np.cumsum(np.bincount(groups, minlength=count))))


def _refresh_threads(store, slices: int) -> None:
    """The importer's own thread rollups, over every thread, a slice of the threads (by hash) per write."""
    for part in range(slices):
        chosen = f"WHERE hash(thread_id) % {slices} = {part}" if slices > 1 else ""

        def refresh(conn, chosen=chosen) -> None:
            conn.execute(f"CREATE TEMP TABLE _touched AS SELECT thread_id FROM threads {chosen}")
            conn.execute(rollups.REFRESH_THREADS)
            conn.execute("DROP TABLE _touched")

        store.engine.write(refresh)


def _load(store, table: str, data: pa.Table) -> None:
    store.engine.write(lambda conn: conn.load(table, data))


def is_postgres(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))


def database_bytes(db: str) -> int:
    """The size of the database on disk: the DuckDB file, or PostgreSQL's database with its indexes."""
    if not is_postgres(db):
        return Path(db).stat().st_size
    store = open_store(db)
    try:
        with store.engine.read() as conn:
            return conn.scalar("SELECT pg_database_size(current_database())")
    finally:
        store.close()


def generate(db_path: str, scale: Scale, seed: int = 11) -> dict:
    """Fill `db_path` (a DuckDB file that must not exist, or an empty PostgreSQL database) with a dataset of
    `scale`; return counts and timings."""
    postgres = is_postgres(db_path)
    if not postgres and Path(db_path).exists():
        raise SystemExit(f"{db_path} exists; the generator only writes a new file")
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    anchor = np.datetime64(ANCHOR.replace(tzinfo=None), "us")
    human_pool = _pool(_QUESTIONS, rng, 5_000, rare_every=2_000)
    answer_pool = _pool(_ANSWERS, rng, 3_000)
    tool_pool = _pool(_TOOL_RESULTS, rng, 1_000)

    n_t, n_r, n_e, n_f = scale.threads, scale.runs, scale.events, scale.feedback
    # Threads in the order they started; runs grouped by thread; events grouped by run.
    thread_ids = _ids(rng, n_t)
    thread_start = np.sort(anchor - (rng.uniform(0, DAYS, n_t) * 86_400e6).astype("timedelta64[us]"))
    thread_assistant = rng.integers(0, len(ASSISTANTS), n_t)
    run_thread = np.sort(rng.integers(0, n_t, n_r))
    run_first = _first_index(run_thread, n_t)
    run_pos = np.arange(n_r) - run_first[run_thread]
    run_gap = (rng.uniform(2, 90, n_r) * 60e6).astype("timedelta64[us]")
    run_created = thread_start[run_thread] + run_gap * run_pos
    run_duration = (rng.uniform(2, 45, n_r) * 1e6).astype("timedelta64[us]")
    run_updated = run_created + run_duration
    run_status = rng.choice(len(STATUSES), n_r, p=STATUS_WEIGHTS)
    run_model = rng.integers(0, len(MODELS), n_r)
    run_ids = _ids(rng, n_r)

    event_run = np.sort(rng.integers(0, n_r, n_e))
    event_first = _first_index(event_run, n_r)
    event_pos = np.arange(n_e) - event_first[event_run]
    run_messages = np.diff(event_first)
    event_thread = run_thread[event_run]
    thread_event_first = _first_index(event_thread, n_t)
    event_seq = np.arange(n_e) - thread_event_first[event_thread] + 1
    last_in_run = event_pos == run_messages[event_run] - 1
    # 0 human, 1 ai answer, 2 ai tool call, 3 tool result
    event_kind = np.where(event_pos == 0, 0, np.where(last_in_run, 1, np.where(event_pos % 2 == 1, 2, 3)))
    event_text_pick = rng.integers(0, 1 << 30, n_e)

    def event_text(rows: np.ndarray) -> pa.Array:
        kinds, picks = event_kind[rows], event_text_pick[rows]
        texts = pa.array([""] * len(rows), pa.string())
        for kind, pool in ((0, human_pool), (1, answer_pool), (3, tool_pool)):
            mask = kinds == kind
            chosen = pool.take(pa.array(picks[mask] % len(pool)))
            texts = pc.replace_with_mask(texts, pa.array(mask), chosen)
        return _with_ref(texts, rows, "ref")

    store = open_store(db_path)
    if postgres and not store.is_empty():
        store.close()
        raise SystemExit("the PostgreSQL database is not empty; the generator only fills a new one")
    if not postgres:
        # The ART indexes being filled are the big consumer; with a limit DuckDB spills instead of growing.
        with store.engine.read() as conn:
            conn.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    try:
        # Threads.
        owners = pc.binary_join_element_wise(
            "user-", pc.cast(pa.array(rng.integers(0, END_USERS, n_t)), pa.string()), ""
        )
        first_run_of_thread = run_first[:-1]
        has_runs = np.diff(run_first) > 0
        thread_updated = np.where(has_runs, run_updated[np.maximum(run_first[1:] - 1, 0)], thread_start)
        named = rng.random(n_t) < 0.3
        first_event_of_first_run = event_first[np.minimum(first_run_of_thread, n_r - 1)]
        name_source = human_pool.take(
            pa.array(event_text_pick[np.minimum(first_event_of_first_run, n_e - 1)] % len(human_pool))
        )
        display_name = pc.if_else(
            pa.array(named), pc.utf8_slice_codeunits(name_source, 0, 80), pa.scalar(None, pa.string())
        )
        _load(
            store,
            "threads",
            pa.table(
                {
                    "thread_id": thread_ids,
                    "assistant_id": pa.array(np.array(ASSISTANTS)[thread_assistant]),
                    "owner_id": owners,
                    "display_name": display_name,
                    "status": pa.array(["idle"] * n_t),
                    "metadata": pa.array(
                        np.array(['{"channel": "web"}', '{"channel": "slack"}', '{"channel": "api"}'])[
                            rng.integers(0, 3, n_t)
                        ]
                    ),
                    "created_at": _times(thread_start),
                    "updated_at": _times(thread_updated),
                }
            ),
        )

        # Runs: message summary from their events, follow-ups after a successful run of the same thread;
        # in chunks like the events, so that their texts never sit in memory all at once.
        first_event = np.minimum(event_first[:-1], n_e - 1)
        has_events = run_messages > 0
        last_event = np.maximum(event_first[1:] - 1, 0)
        last_is_answer = has_events & (run_messages > 1)
        previous_success = np.concatenate(([False], (run_status[:-1] == 0) & (run_pos[1:] > 0)))
        tokens_in = rng.integers(300, 6_000, n_r)
        tokens_out = rng.integers(80, 1_500, n_r)
        llm_calls = rng.integers(1, 7, n_r)
        run_metadata = rng.integers(0, 3, n_r)
        statuses = np.array(STATUSES)[run_status]
        for start in range(0, n_r, CHUNK_EVENTS):
            part = slice(start, min(start + CHUNK_EVENTS, n_r))
            rows = np.arange(part.start, part.stop)
            first_human = pc.if_else(
                pa.array(has_events[part]),
                _with_ref(
                    human_pool.take(pa.array(event_text_pick[first_event[part]] % len(human_pool))),
                    first_event[part],
                    "ref",
                ),
                pa.scalar(None, pa.string()),
            )
            last_ai = pc.if_else(
                pa.array(last_is_answer[part]),
                _with_ref(
                    answer_pool.take(pa.array(event_text_pick[last_event[part]] % len(answer_pool))),
                    last_event[part],
                    "ref",
                ),
                pa.scalar(None, pa.string()),
            )
            follow_up = pc.if_else(
                pa.array(previous_success[part]),
                run_ids.take(pa.array(np.maximum(rows - 1, 0))),
                pa.scalar(None, pa.string()),
            )
            _load(
                store,
                "runs",
                pa.table(
                    {
                        "run_id": run_ids[part],
                        "thread_id": thread_ids.take(pa.array(run_thread[part])),
                        "assistant_id": pa.array(np.array(ASSISTANTS)[thread_assistant[run_thread[part]]]),
                        "owner_id": pc.if_else(
                            pa.array(run_pos[part] == 0),
                            owners.take(pa.array(run_thread[part])),
                            pa.scalar(None, pa.string()),
                        ),
                        "status": pa.array(statuses[part]),
                        "model_name": pa.array(np.array(MODELS)[run_model[part]]),
                        "error": pa.array([ERRORS.get(status) for status in statuses[part].tolist()], pa.string()),
                        "message_count": pa.array(run_messages[part]),
                        "first_human_message": first_human,
                        "last_ai_message": last_ai,
                        "total_input_tokens": pa.array(tokens_in[part]),
                        "total_output_tokens": pa.array(tokens_out[part]),
                        "total_tokens": pa.array(tokens_in[part] + tokens_out[part]),
                        "llm_call_count": pa.array(llm_calls[part]),
                        "follow_up_to_run_id": follow_up,
                        "follow_up_detected": pa.array(previous_success[part]),
                        "metadata": pa.array(
                            np.array(['{"temperature": 0}', '{"temperature": 0.2}', '{"temperature": 0.7}'])[
                                run_metadata[part]
                            ]
                        ),
                        "created_at": _times(run_created[part]),
                        "updated_at": _times(run_updated[part]),
                    }
                ),
            )
            del first_human, last_ai, follow_up

        # Message events, in chunks so that their text never sits in memory all at once.
        event_types = np.array(["human_message", "ai_message", "ai_tool_call", "tool_result"])
        roles = np.array(["human", "ai", "ai", "tool"])
        for start in range(0, n_e, CHUNK_EVENTS):
            rows = np.arange(start, min(start + CHUNK_EVENTS, n_e))
            thread_of = thread_ids.take(pa.array(event_thread[rows]))
            seq_text = pc.cast(pa.array(event_seq[rows]), pa.string())
            text = event_text(rows)
            kinds = event_kind[rows]
            tool_call_ids = pc.binary_join_element_wise("call_", pc.cast(pa.array(event_run[rows]), pa.string()), "")
            _load(
                store,
                "run_events",
                pa.table(
                    {
                        "thread_id": thread_of,
                        "run_id": run_ids.take(pa.array(event_run[rows])),
                        "seq": pa.array(event_seq[rows]),
                        "event_type": pa.array(event_types[kinds]),
                        "category": pa.array(["message"] * len(rows)),
                        "role": pa.array(roles[kinds]),
                        "message_id": pc.binary_join_element_wise(thread_of, seq_text, ":"),
                        "content": text,
                        "text": text,
                        "tool_calls": pc.if_else(
                            pa.array(kinds == 2),
                            pc.binary_join_element_wise(
                                '[{"id": "', tool_call_ids, '", "name": "search", "args": {}}]', ""
                            ),
                            pa.scalar(None, pa.string()),
                        ),
                        "tool_call_id": pc.if_else(pa.array(kinds == 3), tool_call_ids, pa.scalar(None, pa.string())),
                        "created_at": _times(
                            run_created[event_run[rows]] + (event_pos[rows] * 1e6).astype("timedelta64[us]")
                        ),
                    }
                ),
            )

        # Feedback: distinct random (run, reviewer) pairs, one vote each, worse for one model.
        pair = rng.choice(n_r * scale.reviewers, n_f, replace=False)
        fb_run, fb_reviewer = pair // scale.reviewers, pair % scale.reviewers
        p_good = np.where(run_status[fb_run] == 0, 0.78, 0.25) - np.where(
            np.array(MODELS)[run_model[fb_run]] == WORSE_MODEL, 0.35, 0
        )
        good = rng.random(n_f) < p_good
        commented = rng.random(n_f) < 0.3
        comment_pick = rng.integers(0, 5, n_f)
        tag_pick = rng.integers(0, len(REASON_TAGS) + 1, n_f)
        fb_created = run_updated[fb_run] + (rng.uniform(5, 60 * 24, n_f) * 60e6).astype("timedelta64[us]")
        fb_ids = _ids(rng, n_f)
        reviewers = np.array([f"reviewer-{n:02d}@example.com" for n in range(scale.reviewers)])
        for start in range(0, n_f, CHUNK_EVENTS):
            part = slice(start, min(start + CHUNK_EVENTS, n_f))
            size = part.stop - part.start
            comments = pc.if_else(
                pa.array(good[part]),
                pa.array(_GOOD_COMMENTS).take(pa.array(comment_pick[part] % 4)),
                pa.array(_BAD_COMMENTS).take(pa.array(comment_pick[part])),
            )
            tags = [
                [] if ok or pick == len(REASON_TAGS) else [REASON_TAGS[pick]]
                for ok, pick in zip(good[part].tolist(), tag_pick[part].tolist())
            ]
            _load(
                store,
                "feedback",
                pa.table(
                    {
                        "feedback_id": fb_ids[part],
                        "thread_id": thread_ids.take(pa.array(run_thread[fb_run[part]])),
                        "run_id": run_ids.take(pa.array(fb_run[part])),
                        "owner_id": pa.array(reviewers[fb_reviewer[part]]),
                        "message_id": pa.array([None] * size, pa.string()),
                        "scope": pa.array([""] * size),
                        "rating": pa.array(np.where(good[part], 1, -1).astype(np.int16)),
                        "comment": pc.if_else(pa.array(commented[part]), comments, pa.scalar(None, pa.string())),
                        "tags": pa.array(tags, pa.list_(pa.string())),
                        "source": pa.array(["reviewer"] * size),
                        "created_at": _times(fb_created[part]),
                        "updated_at": _times(fb_created[part]),
                    }
                ),
            )
        loaded = time.perf_counter()
        # The search index's fill sorts and deduplicates 55 million words and pairs: it needs more of DuckDB's
        # buffers than the load (at 600 MB it can run out), and the arrays drawn above are not needed any more.
        del event_run, event_first, event_pos, event_thread, thread_event_first, event_seq, last_in_run
        del pair, fb_run, fb_reviewer, fb_created, fb_ids, run_ids, thread_ids
        if not postgres:
            with store.engine.read() as conn:
                conn.execute(f"SET memory_limit = '{INDEX_MEMORY_LIMIT}'")
        # All threads at once outgrow DuckDB's memory limit of the fill: a quarter at a time (`hash` is DuckDB's).
        _refresh_threads(store, 1 if postgres else 4)
        store.engine.write(rollups.refresh)
        # The message-search index, filled by the importer's own statement over all the events at once.
        store.engine.write(lambda conn: store.engine.index_terms(conn, "run_events"))
        indexed = time.perf_counter()
        if postgres:
            # Fresh tables have no planner statistics until autovacuum comes by; a real store has them.
            with store.engine.read() as conn:
                conn.execute("VACUUM ANALYZE")
        else:
            store.engine.checkpoint()
    finally:
        store.close()
    finished = time.perf_counter()
    return {
        "counts": {"threads": n_t, "runs": n_r, "events": n_e, "feedback": n_f, "reviewers": scale.reviewers},
        "seconds": round(finished - started, 2),
        "load_seconds": round(loaded - started, 2),
        "rollup_and_terms_seconds": round(indexed - loaded, 2),
        "finish_seconds": round(finished - indexed, 2),
    }


def random_uuid(rng: np.random.Generator) -> str:
    """A random UUID-shaped id: new ids spread among the stored ones, as uuid4 thread ids are."""
    digits = "".join(f"{value:08x}" for value in rng.integers(0, 2**32, 4))
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def write_import_file(path: str, records: int, seed: int = 5, random_ids: bool = False) -> dict:
    """A JSONL file of about `records` new records (threads, runs, message events, votes) for the import benchmark.

    Ids carry the seed, so files written with different seeds import as new data, and sort after the
    generated ones (as time-ordered ids would). With `random_ids` a thread's id is a random UUID-like
    one instead (a run's id is its thread's with a suffix), spread over the stored ones.
    """
    rng = np.random.default_rng(seed)
    counts = {"thread": 0, "run": 0, "event": 0, "feedback": 0}
    written = 0
    thread_no = 0
    with open(path, "w", encoding="utf-8") as out:
        while written < records:
            thread_id = random_uuid(rng) if random_ids else f"imp{seed}-t{thread_no}"
            start = ANCHOR - timedelta(days=float(rng.uniform(0, 30)))
            lines = [
                {
                    "kind": "thread",
                    "thread_id": thread_id,
                    "assistant_id": ASSISTANTS[thread_no % 5],
                    "created_at": start.isoformat(),
                }
            ]
            seq = 0
            for run_no in range(int(rng.integers(1, 4))):
                run_id = f"{thread_id}-r{run_no}"
                created = start + timedelta(minutes=10 * run_no)
                lines.append(
                    {
                        "kind": "run",
                        "run_id": run_id,
                        "thread_id": thread_id,
                        "status": "success",
                        "model_name": MODELS[int(rng.integers(0, len(MODELS)))],
                        "total_input_tokens": int(rng.integers(300, 6000)),
                        "created_at": created.isoformat(),
                        "updated_at": (created + timedelta(seconds=20)).isoformat(),
                    }
                )
                for event_type, text in (
                    ("human_message", f"How do I export the invoice {run_id}?"),
                    ("ai_tool_call", ""),
                    ("tool_result", '{"results": ["invoice export"]}'),
                    ("ai_message", f"Open Billing, choose Export and pick CSV for {run_id}."),
                ):
                    seq += 1
                    lines.append(
                        {
                            "kind": "event",
                            "thread_id": thread_id,
                            "run_id": run_id,
                            "seq": seq,
                            "event_type": event_type,
                            "content": {
                                "type": "ai" if event_type.startswith("ai") else event_type.split("_")[0],
                                "content": text,
                                "id": f"{run_id}-m{seq}",
                            },
                            "created_at": (created + timedelta(seconds=seq)).isoformat(),
                        }
                    )
                lines.append(
                    {
                        "kind": "feedback",
                        "thread_id": thread_id,
                        "run_id": run_id,
                        "owner_id": "reviewer-01@example.com",
                        "rating": 1 if rng.random() < 0.7 else -1,
                        "comment": None,
                        "tags": [],
                        "source": "reviewer",
                        "created_at": (created + timedelta(hours=1)).isoformat(),
                    }
                )
            for record in lines:
                counts[record["kind"]] += 1
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += len(lines)
            thread_no += 1
    return {"records": written, "counts": counts}


def max_rss_mib() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=SCALES, default="small")
    parser.add_argument("--db", required=True)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    result = generate(args.db, SCALES[args.scale], seed=args.seed)
    result["max_rss_mib"] = max_rss_mib()
    result["file_bytes"] = database_bytes(args.db)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
