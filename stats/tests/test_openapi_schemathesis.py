"""schemathesis against the OpenAPI document (issue #14): every documented operation, called
with inputs generated from the document (its examples, boundary values, unsupported methods,
then random ones), must answer as the document says: no 5xx, a documented status and content
type, a body valid against the documented schema.

Against a real server: uvicorn in a child process with the Procfile's flags
(stats.tests.support.UvicornProc), as `schemathesis run http://.../api/openapi.json` reaches
a deployment. Not schemathesis' in-process ASGI client, though it is faster, for two reasons.
A real server is what production runs: the HTTP parser, webgame.edge, the pooled handler with
its read slots, and group commit on the server's loop are all in the path. And the in-process
client would run the app on a loop of its own that lives until the interpreter exits, which
the handler registers as this process's server loop (stats.live.publish.server_loop_register):
every later test of the session posting events through Django's test client would then hand
them to that loop. (There is no WSGI application to test in-process instead: webgame is ASGI.)

Determinism comes from the generation: derandomized Hypothesis without an example database, a
bounded number of random examples per operation (the boundary values and other methods
schemathesis adds are a fixed list), one request at a time. The operations run in the
document's order as subtests of one test, on one game (so the reads see what the posts
stored): about 1,000 requests, ~20 s.

The document is the one the server serves, loaded from it once it runs (hence
schemathesis.pytest.from_fixture, not a schema loaded at import). One change for the
generator only: the player and team name patterns are narrowed to the code points of NARROW
(stats.schemas.name_pattern_of), because Hypothesis expands a character class one character
at a time: several seconds for the full pattern (140,000 visible characters) each time a
strategy is built. test_openapi_document.py checks the full pattern against the validation for
every code point instead.

Requests carry the game's own key (reads take it too: the anonymous per-address limit never
counts them) and name that game and its match `m1`, so operations get past the 404 into
their validation.
"""

import json
import urllib.request

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from stats import services
from stats.schemas import name_pattern, name_pattern_of
from stats.scoring import services as scoring_services
from stats.tests.support import UvicornProc, web_proc_running

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 30  # random examples per operation, after its examples, boundary values and other methods
SLUG, MATCH = "fuzzed", "m1"
# For the name patterns: Latin to Syriac (C0 and C1 controls, soft hyphen, combining marks,
# unassigned code points), General Punctuation (spaces, zero-width and bidi characters, line
# and paragraph separators), a Hangul filler, and emoji beyond the BMP.
NARROW = [*range(0x800), *range(0x2000, 0x2070), 0x3164, *range(0x1F300, 0x1F400)]


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, valkey):
    with web_proc_running(UvicornProc, django_db_blocker, valkey) as server:
        yield server


@pytest.fixture
def api_schema(server, transactional_db):
    game = services.game_create(slug=SLUG, name="Fuzzed")
    scoring_services.match_start(game_id=game.pk, match_id=MATCH, name="first")
    key = services.api_key_create(game=game, name="schemathesis")[1]
    with urllib.request.urlopen(f"{server.url}/api/openapi.json", timeout=30) as response:
        served = response.read().decode()
    full, narrow = (json.dumps(pattern)[1:-1] for pattern in (name_pattern(), name_pattern_of(NARROW)))
    assert full in served
    config = {
        "base-url": server.url,
        "headers": {"Authorization": f"Bearer {key}"},
        "parameters": {"path.slug": SLUG, "path.match_id": MATCH},
        "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
    }
    document = json.loads(served.replace(full, narrow))
    return schemathesis.openapi.from_dict(document, config=schemathesis.Config.from_dict(config))


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    """schemathesis 4.32's lazy schemas read the test's Node._nodeid, which pytest 9.2 keeps as
    Node._id (nodeid is a property over it): give it the attribute it reads."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case):
    case.call_and_validate(checks=CHECKS, timeout=30)
