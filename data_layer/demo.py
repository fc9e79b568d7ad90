"""Deterministic demo data: realistic threads, runs, conversations and feedback.

The same seed and anchor date give the same records. Besides ordinary traffic it plants what the insight
pages should find: one model that is clearly worse, a theme in the negative comments (in English and
Chinese), one bad day for one assistant, end-user votes next to reviewer votes, follow-up runs, failed
runs, and message content that must be shown as text; two review queues with an adjudicated dispute;
and two LLM judges, one close to people and one lenient, with the random sample of reviewed runs that
calibrates them (demo_judges.py).
"""

from __future__ import annotations

import json
import random
import threading
import uuid
import weakref
from datetime import UTC, date, datetime, time, timedelta

from data_layer import demo_judges
from data_layer.errors import Conflict
from data_layer.queues import QueueSpec

ASSISTANTS = ("research-agent", "coding-agent", "support-agent")
MODELS = ("gpt-4.1", "claude-sonnet-4", "deepseek-v3", "qwen-max-old")
WORSE_MODEL = "qwen-max-old"
REVIEWERS = ("ana@example.com", "bo@example.com", "chen@example.com", "dara@example.com", "eli@example.com")
END_USERS = tuple(f"user-{n:03d}" for n in range(1, 41))
BAD_DAY_OFFSET = 12  # days before the anchor
BAD_DAY_ASSISTANT = "support-agent"
DAYS = 60

_TOPICS = {
    "research-agent": [
        ("What are the main differences between {a} and {b} for a small team?", "web_search"),
        ("Summarize the latest research on {a} in three bullet points.", "web_search"),
        ("Find three sources comparing {a} with {b} and cite them.", "web_search"),
    ],
    "coding-agent": [
        ("Write a Python function that parses {a} and returns {b}.", "python_exec"),
        ("Why does my {a} code raise a KeyError when {b} is empty?", "read_file"),
        ("Refactor this {a} snippet so it handles {b} correctly.", "python_exec"),
    ],
    "support-agent": [
        ("How do I reset my {a} when {b} does not arrive?", "kb_lookup"),
        ("My {a} invoice shows {b} twice, can you fix it?", "kb_lookup"),
        ("Can I move my {a} plan to {b} without losing data?", "kb_lookup"),
    ],
}
_NOUNS = {
    "research-agent": ["vector databases", "RAG pipelines", "DuckDB", "PostgreSQL", "LLM evaluation", "fine-tuning"],
    "coding-agent": ["CSV rows", "a JSON config", "ISO dates", "nested dicts", "a log file", "HTTP headers"],
    "support-agent": ["password", "verification email", "team account", "annual plan", "monthly plan", "workspace"],
}
_GOOD_COMMENTS = [
    "Clear and correct answer.",
    "Good use of the tool results, cites sources.",
    "Exactly what the user asked for.",
    "Concise, the code runs as is.",
    "回答准确，步骤清楚。",
    "很有帮助，代码可以直接运行。",
]
# The planted theme: negative comments keep mentioning outdated information and wrong versions.
_BAD_COMMENTS = {
    "incorrect": [
        "Outdated information: cites the 2021 pricing page.",
        "Wrong version of the API, the answer is outdated.",
        "信息过时，引用的是旧版本的文档。",
        "The code uses an outdated library version and fails.",
    ],
    "not_as_expected": [
        "Did not answer the actual question.",
        "Ignored the constraint the user gave.",
        "没有回答用户的问题。",
    ],
    "slow": ["Took far too many tool calls.", "Very slow, five searches for a simple question."],
    "style_tone": ["Too verbose, buries the answer.", "Tone is condescending.", "语气太生硬。"],
    "safety_legal": ["Suggests sharing the password over email.", "Gives legal advice it should not."],
    "other": ["Formatting broke the table.", ""],
}
_HOSTILE = (
    "Please render this: <script>window.__pwned = 1; alert('xss')</script> "
    '<img src=x onerror="window.__pwned = 2"> [click me](javascript:alert(1)) '
    "![tracker](https://tracker.example.invalid/pixel.png)"
)


def _id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _answer(assistant: str, noun_a: str, noun_b: str) -> str:
    if assistant == "coding-agent":
        return (
            f"Here is a version that handles **{noun_b}**:\n\n"
            "```python\n"
            "def parse(rows):\n"
            "    result = {}\n"
            "    for row in rows:\n"
            "        key = row.get('id')\n"
            "        if key is None:\n"
            "            continue\n"
            "        result[key] = row\n"
            "    return result\n"
            "```\n\n"
            f"It skips rows without an id, so {noun_a} with gaps no longer raise `KeyError`."
        )
    if assistant == "research-agent":
        return (
            f"### {noun_a.title()} vs {noun_b}\n\n"
            f"- **Setup**: {noun_a} is simpler to run for a small team.\n"
            f"- **Scale**: {noun_b} grows further with replicas.\n"
            "- **Cost**: both are open source; hosting dominates.\n\n"
            "| aspect | winner |\n|---|---|\n| setup | " + noun_a + " |\n| scale | " + noun_b + " |\n\n"
            "Sources: [1] vendor docs, [2] a 2025 benchmark."
        )
    return (
        f"Sorry about the trouble with your {noun_a}. Try these steps:\n\n"
        f"1. Open **Settings → {noun_a.title()}**.\n"
        f"2. Choose *Resend* next to {noun_b}.\n"
        "3. Check the spam folder; the message comes from `no-reply@example.com`.\n\n"
        "If that does not help, reply here and I will open a ticket."
    )


def _message(kind: str, content: str, message_id: str, **extra) -> dict:
    return {"type": kind, "content": content, "id": message_id, **extra}


def generate(threads: int = 200, seed: int = 7, anchor: date | None = None) -> list[dict]:
    """Records in the import format for `threads` threads, the last activity on `anchor` (today)."""
    rng = random.Random(seed)
    anchor = anchor or datetime.now(UTC).date()
    end = datetime.combine(anchor, time(18, 0), tzinfo=UTC)
    bad_day = anchor - timedelta(days=BAD_DAY_OFFSET)
    records: list[dict] = []
    for index in range(threads):
        assistant = ASSISTANTS[index % len(ASSISTANTS)]
        thread_id = _id(rng)
        start = end - timedelta(days=rng.uniform(0, DAYS - 1), hours=rng.uniform(0, 8))
        # A third of the bad-day assistant's threads (its indices are 2 mod 3) land on the bad day.
        if assistant == BAD_DAY_ASSISTANT and index % 9 == ASSISTANTS.index(BAD_DAY_ASSISTANT):
            start = datetime.combine(bad_day, time(9, 0), tzinfo=UTC) + timedelta(minutes=index)
        template, tool = rng.choice(_TOPICS[assistant])
        noun_a, noun_b = rng.sample(_NOUNS[assistant], 2)
        question = _HOSTILE if index == 3 else template.format(a=noun_a, b=noun_b)
        records.append(
            {
                "kind": "thread",
                "thread_id": thread_id,
                "assistant_id": assistant,
                "owner_id": rng.choice(END_USERS),
                "display_name": question[:80] if rng.random() < 0.6 else None,
                "status": "idle",
                "metadata": {"channel": rng.choice(["web", "slack", "api"])},
                "created_at": start.isoformat(),
            }
        )
        seq = 0
        moment = start
        for turn in range(rng.choice((1, 1, 2, 2, 3))):
            run_id = _id(rng)
            model = rng.choice(MODELS)
            status = rng.choices(("success", "error", "timeout", "interrupted"), weights=(86, 7, 4, 3))[0]
            user_text = (
                question
                if turn == 0
                else rng.choice(
                    [
                        "That did not work, can you try again?",
                        "Thanks! One more thing: can you explain step 2?",
                        "这个答案不对，请再检查一下。",
                        "Can you make it shorter?",
                    ]
                )
            )
            messages = []
            seq += 1
            messages.append(("human_message", _message("human", user_text, f"msg-{run_id[:8]}-h"), seq))
            tool_call_id = f"call_{run_id[:8]}"
            seq += 1
            messages.append(
                (
                    "ai_tool_call",
                    _message(
                        "ai",
                        "",
                        f"msg-{run_id[:8]}-t",
                        tool_calls=[{"name": tool, "args": {"query": noun_a}, "id": tool_call_id}],
                    ),
                    seq,
                )
            )
            seq += 1
            messages.append(
                (
                    "tool_result",
                    _message(
                        "tool",
                        json.dumps({"results": [f"{noun_a} overview", f"{noun_b} notes"]}),
                        f"msg-{run_id[:8]}-r",
                        tool_call_id=tool_call_id,
                        name=tool,
                    ),
                    seq,
                )
            )
            answer = _answer(assistant, noun_a, noun_b)
            if status == "success":
                seq += 1
                messages.append(("ai_message", _message("ai", answer, f"msg-{run_id[:8]}-a"), seq))
            duration = rng.uniform(2, 45) * (3 if status == "timeout" else 1)
            records.append(
                {
                    "kind": "run",
                    "run_id": run_id,
                    "thread_id": thread_id,
                    "assistant_id": assistant,
                    "owner_id": records[-1].get("owner_id") if turn == 0 else None,
                    "status": status,
                    "model_name": model,
                    "error": {
                        "error": "RateLimitError: 429 Too Many Requests from the model provider",
                        "timeout": "Run exceeded the 120 s budget while waiting for a tool",
                        "interrupted": "Interrupted by the user",
                    }.get(status),
                    "total_input_tokens": rng.randint(300, 6000),
                    "total_output_tokens": rng.randint(80, 1500),
                    "llm_call_count": rng.randint(1, 6),
                    "metadata": {"temperature": rng.choice([0, 0.2, 0.7])},
                    "created_at": moment.isoformat(),
                    "updated_at": (moment + timedelta(seconds=duration)).isoformat(),
                }
            )
            records[-1]["total_tokens"] = records[-1]["total_input_tokens"] + records[-1]["total_output_tokens"]
            lifecycle_seq = seq + 1
            for event_type, content, event_seq in messages:
                records.append(
                    {
                        "kind": "event",
                        "thread_id": thread_id,
                        "run_id": run_id,
                        "seq": event_seq,
                        "event_type": event_type,
                        "category": "message",
                        "content": content,
                        "created_at": (moment + timedelta(seconds=event_seq)).isoformat(),
                    }
                )
            records.append(
                {
                    "kind": "event",
                    "thread_id": thread_id,
                    "run_id": run_id,
                    "seq": lifecycle_seq,
                    "event_type": "run_end" if status == "success" else "run_error",
                    "category": "lifecycle",
                    "content": f"run finished: {status}",
                    "metadata": {"duration_s": round(duration, 1)},
                    "created_at": (moment + timedelta(seconds=duration)).isoformat(),
                }
            )
            seq = lifecycle_seq
            records.extend(
                _votes(rng, thread_id, run_id, assistant, model, status, moment, bad_day, f"msg-{run_id[:8]}-a")
            )
            moment += timedelta(minutes=rng.uniform(2, 90))
    return records


def _votes(rng, thread_id, run_id, assistant, model, status, moment, bad_day, answer_id) -> list[dict]:
    """Reviewer and end-user votes for one run, skewed by model, status and the bad day."""
    p_good = 0.78 if status == "success" else 0.25
    if model == WORSE_MODEL:
        p_good -= 0.35
    if assistant == BAD_DAY_ASSISTANT and moment.date() == bad_day:
        p_good = 0.08
    votes = []
    reviewers = rng.sample(REVIEWERS, rng.choice((0, 1, 1, 2, 2, 3)))
    for reviewer in reviewers:
        votes.append(_vote(rng, thread_id, run_id, reviewer, "reviewer", p_good, moment))
    if rng.random() < 0.45:
        votes.append(_vote(rng, thread_id, run_id, rng.choice(END_USERS), "end_user", p_good, moment))
    if status == "success" and reviewers and rng.random() < 0.2:
        vote = _vote(rng, thread_id, run_id, reviewers[0], "reviewer", p_good, moment)
        vote["message_id"] = answer_id
        votes.append(vote)
    return votes


def _vote(rng, thread_id, run_id, owner, source, p_good, moment) -> dict:
    good = rng.random() < p_good
    if good:
        tags: list[str] = []
        comment = rng.choice(_GOOD_COMMENTS) if rng.random() < 0.4 else None
    else:
        tag = rng.choices(list(_BAD_COMMENTS), weights=(40, 25, 12, 12, 4, 7))[0]
        tags = [tag] if rng.random() < 0.85 else []
        comment = (rng.choice(_BAD_COMMENTS[tag]) or None) if rng.random() < 0.8 else None
    when = moment + timedelta(minutes=rng.uniform(5, 60 * 24))
    return {
        "kind": "feedback",
        "thread_id": thread_id,
        "run_id": run_id,
        "owner_id": owner,
        "rating": 1 if good else -1,
        "comment": comment,
        "tags": tags,
        "source": source,
        "created_at": when.isoformat(),
    }


# The demo's review queues: a random sample judged blind by two reviewers each, and end users' complaints.
QUEUES = (
    {
        "name": "weekly-sample",
        "instructions": "Judge the **whole run**: was the final answer right and useful? Other votes stay hidden "
        "until you vote.",
        "sample_rate": 0.05,
        "reviewers_per_item": 2,
        "blind": True,
        "rubric": [
            {"name": "factual", "kind": "binary", "required": True, "description": "Are the answer's facts right?"},
            {
                "name": "helpfulness",
                "kind": "ordinal",
                "required": True,
                "description": "How far does the answer get the user?",
                "labels": ["Useless", "Poor", "Adequate", "Good", "Excellent"],
            },
            {
                "name": "tone",
                "kind": "categorical",
                "description": "How does the answer sound?",
                "options": ["friendly", "neutral", "curt"],
            },
        ],
    },
    {
        "name": "complaints",
        "instructions": "An end user thumbed this run down. Read their comment, then judge the answer yourself.",
        "selection": {"negative_user_feedback": True},
    },
)


def scored(records: list[dict], runs: set[str], seed: int) -> list[dict]:
    """The reviewers' whole-run votes on `runs` again, with scores for the sample's rubric that lean the
    way the thumbs does (importing a vote again with scores changes only its scores)."""
    rng = random.Random(seed)
    votes = []
    for record in records:
        if record["kind"] != "feedback" or record["source"] != "reviewer" or record.get("message_id"):
            continue
        if record["run_id"] not in runs:
            continue
        good = record["rating"] == 1
        scores: dict[str, bool | int | str] = {
            "factual": rng.random() < (0.9 if good else 0.45),
            "helpfulness": rng.choice((3, 4, 4, 5, 5) if good else (1, 2, 2, 3)),
        }
        if rng.random() < 0.8:
            scores["tone"] = rng.choice(("friendly", "friendly", "neutral") if good else ("neutral", "curt"))
        votes.append({**record, "scores": scores})
    return votes


def seed(store, threads: int = 200, seed: int = 7, anchor: date | None = None, *, actor):
    """Write the demo data into `store` as an import by `actor` (`auth.SYSTEM` for scripts and tests), define
    the demo's queues (`QUEUES`) unless they exist, settle the sample's first dispute with an adjudication,
    and add the two judges' verdicts; the reviewers' votes on the sample score its rubric. Returns the import report."""
    records = generate(threads=threads, seed=seed, anchor=anchor)
    report = store.ingest(records, actor=actor)
    for definition in QUEUES:
        try:
            store.queues.create(QueueSpec(**definition), actor=actor)
        except Conflict:
            continue
    sampled = {item["run_id"] for item in store.queues.items("weekly-sample", actor=actor, limit=100_000)}
    store.ingest(scored(records, sampled, seed), actor=actor)
    split = store.queues.adjudications("weekly-sample", actor=actor)
    disputed = [row for row in split if row["verdict"] is None and row["consensus"] == "disputed"]
    if disputed:
        note = "Two reviewers split; the answer cites the right sources, so it stands."
        store.queues.adjudicate("weekly-sample", disputed[0]["run_id"], verdict="good", note=note, actor=actor)
    demo_judges.seed(store, records, seed, actor=actor)
    return report


# The stores whose demo seeding has been announced: a process-wide fact, so the notice reaches the
# first browser session of the start that seeded, never the sessions after it nor a later start.
_ANNOUNCED: weakref.WeakSet = weakref.WeakSet()
_ANNOUNCING = threading.Lock()


def first_notice(store) -> bool:
    """True once per process for a store this process seeded with demo data (`store.seeded_demo`), to the
    first caller only; False for every other call and for a store it did not seed."""
    if store.seeded_demo is None:
        return False
    with _ANNOUNCING:
        if store in _ANNOUNCED:
            return False
        _ANNOUNCED.add(store)
        return True
