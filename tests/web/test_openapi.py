"""The OpenAPI document: served, committed, and true of every answer.

schemathesis generates requests for every operation from the document (valid and invalid ones);
each request to a private endpoint is signed with a funded user's key over the exact bytes about
to be sent, so the fuzzing reaches core rather than stopping at the signature check. Every answer
must be documented (status, content type, headers, body schema) and none may be a 5xx.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from stockade.keys import read_secret
from stockade.web import openapi
from stockade.wire import HEADERS, HttpRequest, NonceSource, sign_http
from tests.live import LiveSite
from tests.processes import http_request

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
SCHEMA = schemathesis.openapi.from_dict(openapi())
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]
NONCES = NonceSource(b"openapi!")


def test_the_served_document_is_the_committed_one(live: LiveSite) -> None:
    status, _, body = http_request(live.web, "GET", "/api/v1/openapi.json")
    assert status == 200
    served = json.loads(body)
    assert served == json.loads(COMMITTED.read_text()), (
        "docs/openapi.json is stale: regenerate it with `stockade web openapi > docs/openapi.json`"
    )


def _sign(live: LiveSite, prepared: requests.PreparedRequest) -> None:
    """Sign the request exactly as it will go out: method, path, query and body bytes."""
    alice = read_secret(live.layout.client_key("alice"))
    path, _, query = (prepared.path_url or "/").partition("?")
    body = prepared.body or b""
    raw = body.encode() if isinstance(body, str) else body
    request = HttpRequest(prepared.method or "GET", path, query, raw)  # type: ignore[arg-type]
    nonce, ts = NONCES(), int(time.time() * 1000)
    signature = sign_http(alice, live.site.core_key, request, nonce, ts)
    key, ts_name, nonce_name, signature_name = HEADERS
    prepared.headers[key] = alice.public.hex()
    prepared.headers[ts_name] = str(ts)
    prepared.headers[nonce_name] = nonce.hex()
    prepared.headers[signature_name] = base64.b64encode(signature).decode()


@SCHEMA.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_answer_is_documented_and_none_is_a_server_error(
    case: schemathesis.Case, live: LiveSite
) -> None:
    prepared = requests.Request(**case.as_transport_kwargs(base_url=live.web)).prepare()
    if case.operation.definition.raw.get("security"):
        _sign(live, prepared)
    with requests.Session() as session:
        response = session.send(prepared, timeout=10)
    case.validate_response(response, checks=CHECKS)
