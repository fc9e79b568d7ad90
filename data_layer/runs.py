"""Runs: one agent turn in a thread, with status, model, tokens and its follow-up link."""

from __future__ import annotations

from data_layer.rows import plain, plain_all

COLUMNS = """run_id, thread_id, assistant_id, owner_id, status, model_name, error, message_count,
    first_human_message, last_ai_message, total_input_tokens, total_output_tokens, total_tokens,
    llm_call_count, follow_up_to_run_id, follow_up_detected, metadata, created_at, updated_at"""

_GET = f"SELECT {COLUMNS} FROM runs WHERE run_id = $run_id"
_BY_THREAD = f"SELECT {COLUMNS} FROM runs WHERE thread_id = $thread_id ORDER BY created_at, run_id"
_MODELS = "SELECT DISTINCT model_name FROM runs WHERE model_name IS NOT NULL ORDER BY 1"


def follow_up_chain(runs: list[dict], run_id: str) -> list[str]:
    """The run ids linked to `run_id` by follow-ups, oldest first (the run it follows, and its follow-ups)."""
    by_id = {run["run_id"]: run for run in runs}
    followers: dict[str, str] = {}
    for run in runs:
        if run.get("follow_up_to_run_id"):
            followers.setdefault(run["follow_up_to_run_id"], run["run_id"])
    chain: list[str] = []
    current: str | None = run_id
    seen: set[str] = set()
    while current is not None and current in by_id and current not in seen:
        seen.add(current)
        chain.insert(0, current)
        current = by_id[current].get("follow_up_to_run_id")
    current = followers.get(run_id)
    while current and current not in seen:
        seen.add(current)
        chain.append(current)
        current = followers.get(current)
    return chain


class RunRepo:
    def __init__(self, engine):
        self._engine = engine

    def get(self, run_id) -> dict | None:
        if not isinstance(run_id, str):
            return None
        with self._engine.read() as conn:
            return plain(conn.one(_GET, {"run_id": run_id}))

    def list_by_thread(self, thread_id) -> list[dict]:
        """A thread's runs, oldest first, each with `follow_up_to_run_id`."""
        with self._engine.read() as conn:
            return plain_all(conn.all(_BY_THREAD, {"thread_id": thread_id}))

    def models(self) -> list[str]:
        with self._engine.read() as conn:
            return [row["model_name"] for row in conn.all(_MODELS)]
