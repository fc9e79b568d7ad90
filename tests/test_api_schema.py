"""Property-based test of the REST API against its own OpenAPI document, on a running server.

Schemathesis reads /api/openapi.json from `streamlit run app.py`, generates valid and invalid
requests for every operation, and checks each answer: never a 500, a documented status, a
body and headers matching the schema, invalid data refused, and no operation that ignores
its token. Every case is sent twice: as generated (mostly unknown ids, so 400 and 404 paths),
and retargeted at a real run so that the vote rules and their answers are exercised too.
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from data_layer import auth, open_store
from data_layer.auth import SYSTEM
from tests.conftest import AppServer

pytestmark = pytest.mark.slow

TOKEN = auth.new_token()
REAL_TARGET = {"thread_id": "t1", "run_id": "r1"}


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("schema") / "schema.duckdb")
    with open_store(db) as store:
        report = store.ingest(
            [
                {"kind": "thread", "thread_id": "t1"},
                {"kind": "run", "run_id": "r1", "thread_id": "t1", "status": "success"},
                {
                    "kind": "event",
                    "thread_id": "t1",
                    "run_id": "r1",
                    "seq": 1,
                    "event_type": "ai_message",
                    "content": {"type": "ai", "content": "hello", "id": "m1"},
                },
            ],
            actor=SYSTEM,
        )
        assert report.ok, report.summary()
    server = AppServer(
        db,
        env={
            "FEEDBACK_API_TOKENS": auth.token_entry("fuzzer", "admin", TOKEN),
            "FEEDBACK_DEMO": "0",
            # above the largest valid vote body: a 10,000-character comment and a 20,000-character correction,
            # each character sent as a 6-byte \uXXXX escape
            "FEEDBACK_API_MAX_BODY": "300000",
        },
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_schema(fuzzed_server):
    loaded = schemathesis.openapi.from_url(f"{fuzzed_server.url}/api/openapi.json")
    # The token is sent with every case below; the `ignored_auth` check still proves each
    # operation refuses a request without it.
    loaded.config.generation.update(with_security_parameters=False)
    # A body over FEEDBACK_API_MAX_BODY is refused before it is read: 413 is a rejection too.
    rejection = loaded.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]

    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_every_answer_is_documented_and_never_a_server_error(case):
    # A line break in a path segment (%0A) does not match Starlette's Mount("/api") pattern, so such
    # a request never reaches the API: Streamlit's own router answers it with a plain-text 404.
    path = unquote(case.formatted_path)
    if "\n" in path or "\r" in path:
        return
    headers = {"Authorization": f"Bearer {TOKEN}"}
    # Schema-valid records may still be refused as a whole (a vote on a run that is nowhere):
    # the import checks records against each other and the database, which no schema can say.
    # So may rubric scores: each criterion must be in the rubric of a queue the run is in.
    scored = isinstance(case.body, dict) and bool(case.body.get("scores"))
    excluded = [positive_data_acceptance] if case.operation.path == "/ingest" or scored else []
    case.call_and_validate(headers=headers, excluded_checks=excluded)
    negative = case.meta is not None and case.meta.generation.mode.is_negative
    targets = {name: value for name, value in REAL_TARGET.items() if name in (case.path_parameters or {})}
    if targets and not negative:
        case.path_parameters = {**case.path_parameters, **targets}
        case.call_and_validate(headers=headers, excluded_checks=excluded)
