"""The OpenAPI document (GET /api/openapi.json) against the code, so that it cannot drift
(issue #14): every route Django has under /api/ is a documented path with exactly the
methods its view allows, and every status code the code can answer for an operation is
documented.

Nothing here lists the routes or the codes a second time: they are derived from the code.
The routes from Django's resolver; the methods by asking each route (405 answers carry
`Allow`); the statuses of a view by reading its source (and that of the API's helpers it
calls: `ApiError(4xx, ...)`, `error_response(...)`, `JsonResponse(..., status=...)`); what
answers before any view from the modules that answer it: webgame.urls' error handlers (a
foreign Host: 400), webgame.handler (503 `busy` for the GETs HEAVY_READ matches),
webgame.edge (413 and 408 for bodies). A status the source reader cannot derive fails the
test rather than being skipped. The 429s and the bad Host are also provoked for real, as a
check on the reading.

And a table of bodies on which the document (validated with a JSON Schema validator) and the
API must agree, for the rules the reports found missing from it: names with control or
invisible characters, `at` as a number, events of stats alone.
"""

import ast
import inspect
import json
import re
import textwrap
import unicodedata
import uuid
from types import FunctionType, ModuleType

import jsonschema_rs  # schemathesis' validator (requirements-dev.txt): Draft 2020-12, as OpenAPI 3.1
import pytest
from django.http import JsonResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from pydantic import TypeAdapter, ValidationError

import webgame.edge
import webgame.handler
import webgame.urls
from stats import api
from stats.schemas import PlayerName, name_pattern
from stats.scoring import api as scoring_api

pytestmark = pytest.mark.django_db

API_MODULES = (api, scoring_api)  # the helpers a view's statuses are read through
PROBED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
BODY_METHODS = ("POST", "PUT", "PATCH")
SAMPLE = {"slug": "arena", "match_id": "m1"}  # values for path parameters, else "x"


# Routes -----------------------------------------------------------------------------------


def _walk(patterns, prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def api_routes() -> dict[str, URLPattern]:
    """{"/api/games/{slug}/events": its URLPattern, ...}: every route under /api/ but the
    catch-all that answers the JSON 404."""
    routes = {}
    for route, pattern in _walk(get_resolver().url_patterns):
        if not route.lstrip("^").startswith("api/") or inspect.unwrap(pattern.callback) is api.not_found:
            continue
        assert "(" not in route and "^" not in route, f"{route}: a regex route; teach api_routes() to read it"
        routes["/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)] = pattern
    return routes


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE.get(m.group(1), "x"), path)


@pytest.fixture
def doc(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def documented_statuses(doc: dict, path: str, method: str) -> set[int]:
    return {int(code) for code in doc["paths"][path][method.lower()]["responses"]}


# Statuses read from the source ------------------------------------------------------------


class SourceStatuses:
    """The statuses a view can answer for one method, read from its source: the int given to
    ApiError or error_response, JsonResponse's status (200 when none is given), following the
    calls into the API modules' own functions. `if request.method == "X":` blocks count only
    for X. An ApiError that passes on another exception's status (`exc.status`) takes every
    int that exception is raised with in its module."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.done: dict[FunctionType, set[int]] = {}

    def of(self, func: FunctionType) -> set[int]:
        func = inspect.unwrap(func)  # api_view and csrf_exempt wrap with functools.wraps
        if func not in self.done:
            self.done[func] = set()  # recursion guard
            tree = ast.parse(textwrap.dedent(inspect.getsource(func))).body[0]
            handlers = {id(n): h for h in ast.walk(tree) if isinstance(h, ast.ExceptHandler) for n in ast.walk(h)}
            self.done[func] = self._block(tree.body, func, handlers)
        return self.done[func]

    def _block(self, statements, func, handlers) -> set[int]:
        codes: set[int] = set()
        for statement in statements:
            method = _method_test(statement)
            if method is None:
                codes |= self._nodes(statement, func, handlers)
            elif method == self.method:
                codes |= self._block(statement.body, func, handlers)
                if isinstance(statement.body[-1], ast.Return | ast.Raise):
                    return codes  # the rest of the view is for the other methods
            else:
                codes |= self._block(statement.orelse, func, handlers)
        return codes

    def _nodes(self, statement, func, handlers) -> set[int]:
        codes: set[int] = set()
        for node in ast.walk(statement):
            if not isinstance(node, ast.Call):
                continue
            callee = _resolve(node.func, func.__globals__)
            where = f"{func.__module__}.{func.__name__}, line {node.lineno}"
            if callee in (api.ApiError, api.error_response):
                codes |= _status_arg(node.args[0], func, handlers.get(id(node)), where)
            elif callee is JsonResponse:
                status = next((k.value for k in node.keywords if k.arg == "status"), None)
                codes |= {200} if status is None else _status_arg(status, func, None, where)
            elif isinstance(callee, FunctionType) and inspect.unwrap(callee).__module__ in MODULE_NAMES:
                codes |= self.of(callee)
        return codes


MODULE_NAMES = {m.__name__ for m in API_MODULES}


def _method_test(statement) -> str | None:
    """The method of `if request.method == "GET":` ("GET"), else None."""
    if not isinstance(statement, ast.If) or not isinstance(statement.test, ast.Compare):
        return None
    test = statement.test
    if (
        ast.unparse(test.left) == "request.method"
        and isinstance(test.ops[0], ast.Eq)
        and isinstance(test.comparators[0], ast.Constant)
    ):
        return test.comparators[0].value
    return None


def _resolve(node, namespace: dict):
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, namespace)
        return getattr(owner, node.attr, None) if isinstance(owner, ModuleType | type) else None
    return None


def _status_arg(node, func, handler, where: str) -> set[int]:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _status_arg(node.body, func, handler, where) | _status_arg(node.orelse, func, handler, where)
    if isinstance(node, ast.Attribute) and handler is not None and ast.unparse(node) == f"{handler.name}.status":
        return _raised_with(_resolve(handler.type, func.__globals__), where)
    raise AssertionError(f"{where}: cannot derive the status {ast.unparse(node)!r}; teach SourceStatuses to read it")


def _raised_with(exc_class: type, where: str) -> set[int]:
    """Every int status `exc_class(<int>, ...)` is raised with in its module."""
    tree = ast.parse(inspect.getsource(inspect.getmodule(exc_class)))
    codes = {
        call.args[0].value
        for call in ast.walk(tree)
        if isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id == exc_class.__name__
        and call.args
        and isinstance(call.args[0], ast.Constant)
    }
    assert codes, f"{where}: found no {exc_class.__name__}(<status>, ...) to take the status from"
    return codes


def busy_statuses() -> set[int]:
    """What webgame.handler answers by itself (a read over its slots), from its source."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(webgame.handler.PooledThreadASGIHandler.__call__)))
    statuses = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "status" and isinstance(value, ast.Constant):
                    statuses.add(value.value)
    assert statuses, "webgame.handler sends no status of its own any more? teach busy_statuses() to find it"
    return statuses


def edge_statuses() -> set[int]:
    """What webgame.edge answers about a body: the ints given to refuse() and kept as
    BodyReader.refusal, from its source."""
    tree = ast.parse(inspect.getsource(webgame.edge))
    statuses = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "refuse" and isinstance(node.args[1], ast.Constant):
            statuses.add(node.args[1].value)
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "self.refusal":
            if isinstance(node.value, ast.Tuple) and isinstance(node.value.elts[0], ast.Constant):
                statuses.add(node.value.elts[0].value)
    assert len(statuses) >= 2, f"webgame.edge: found only {statuses}; teach edge_statuses() to read it"
    return statuses


def derived_statuses(path: str, method: str, callback, allowed: set[str]) -> set[int]:
    codes = SourceStatuses(method).of(callback)
    codes |= {405} if set(PROBED_METHODS) - allowed else set()
    if webgame.urls.handler400 == "stats.api.handler_bad_request":  # a foreign Host: probed below too
        codes.add(400)
    if method == "GET" and webgame.handler.HEAVY_READ.search(concrete(path)):
        codes |= busy_statuses()
    if method in BODY_METHODS:
        codes |= edge_statuses()
    return codes


# The tests --------------------------------------------------------------------------------


def allowed_methods(client, path: str) -> set[str]:
    """The methods a route's view takes: those not answered 405. Every 405 lists them in Allow."""
    allowed, allow_headers = set(), set()
    for method in PROBED_METHODS:
        response = client.generic(method, concrete(path))
        if response.status_code == 405:
            if method != "HEAD":  # a HEAD answer has no body
                assert response.json()["error"]["code"] == "method_not_allowed"
            allow_headers.add(response["Allow"])
        else:
            allowed.add(method)
    assert allowed, f"{path}: every method is answered 405"
    for allow in allow_headers:
        assert set(allow.split(", ")) == allowed, f"{path}: Allow says {allow!r}, the view takes {sorted(allowed)}"
    return allowed


def test_every_api_route_is_a_documented_path_and_no_other(doc):
    routes = api_routes()
    assert len(routes) >= 10  # the walk found the included ones (stats.scoring.urls) too
    assert set(doc["paths"]) == set(routes)


def test_every_path_documents_the_methods_its_view_allows(client, game, doc):
    for path in api_routes():
        allowed = allowed_methods(client, path)
        assert {m.upper() for m in doc["paths"][path]} == allowed, path


def test_every_status_the_code_can_answer_is_documented_and_no_other(client, game, doc):
    for path, pattern in api_routes().items():
        allowed = allowed_methods(client, path)
        for method in allowed:
            derived = derived_statuses(path, method, pattern.callback, allowed)
            assert documented_statuses(doc, path, method) == derived, f"{method} {path}"


def test_the_derivation_finds_what_the_readme_states(client, game):
    """A check on the source reading itself."""
    routes = api_routes()

    def derived(method: str, path: str) -> set[int]:
        return derived_statuses(path, method, routes[path].callback, allowed_methods(client, path))

    assert derived("POST", "/api/games/{slug}/events") == {202, 400, 401, 404, 405, 408, 409, 413, 422, 429}
    assert derived("GET", "/api/games/{slug}/events") == {200, 400, 404, 405, 429, 503}
    assert derived("GET", "/api/games/{slug}/stats") == {200, 400, 404, 405, 429}  # not the POST's branch
    assert {200, 201, 401, 409, 422} <= derived("POST", "/api/games/{slug}/stats")


def test_every_error_answer_documents_the_error_body_and_its_headers(doc):
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            for code, answer in operation["responses"].items():
                if int(code) >= 400:
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, f"{method} {path} {code}"
            assert "Allow" in operation["responses"]["405"]["headers"]
            for code in {"429", "503"} & set(operation["responses"]):
                assert "Retry-After" in operation["responses"][code]["headers"], f"{method} {path} {code}"


def test_a_foreign_host_is_a_documented_400_on_every_operation(client, game, doc):
    for path in api_routes():
        for method in doc["paths"][path]:
            response = client.generic(method.upper(), concrete(path), HTTP_HOST="evil.test")
            assert (response.status_code, response.json()["error"]["code"]) == (400, "bad_host")
            assert 400 in documented_statuses(doc, path, method)


def test_every_operation_a_zero_rate_limit_refuses_documents_its_429(game, api_key, doc, settings):
    """Reads without a key or a login count per address; writes per key. At a limit of 0 every
    counted request is refused: those operations must document 429, with Retry-After."""
    client = Client(REMOTE_ADDR=f"2001:db8:{uuid.uuid4().hex[:4]}::1")  # a count of its own in Redis
    settings.WEBGAME_API_ANON_READ_RATE = 0
    settings.WEBGAME_API_RATE_LIMIT = 0
    refused = set()
    for path in api_routes():
        for method in doc["paths"][path]:
            headers = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"} if method != "get" else {}
            response = client.generic(method.upper(), concrete(path), "{}", "application/json", **headers)
            if response.status_code == 429:
                assert int(response["Retry-After"]) >= 1
                assert response.json()["error"]["code"] == "rate_limited"
                assert 429 in documented_statuses(doc, path, method), f"{method} {path}"
                refused.add((method, path))
    assert ("get", "/api/games") in refused and ("post", "/api/games/{slug}/events") in refused
    assert len(refused) == sum(len(item) for item in doc["paths"].values()) - 1  # all but this document


def test_the_documents_bounds_are_the_validations(client, game, doc):
    """after_seq: the reported 48810792437570602415188606976 is outside the document's bound,
    and its bound is answered."""
    params = {p["name"]: p["schema"] for p in doc["paths"]["/api/games/{slug}/events"]["get"]["parameters"]}
    high = params["after_seq"]["maximum"]
    assert 48810792437570602415188606976 > high
    assert client.get(f"/api/games/arena/events?after_seq={high}").status_code == 200
    assert client.get(f"/api/games/arena/events?after_seq={high + 1}").status_code == 400
    for path, name in [("matches", "before"), ("chat", "before"), ("events", "limit"), ("leaderboard", "limit")]:
        params = {p["name"]: p["schema"] for p in doc["paths"][f"/api/games/{{slug}}/{path}"]["get"]["parameters"]}
        high = params[name]["maximum"]
        assert client.get(f"/api/games/arena/{path}?{name}={high}").status_code == 200, (path, name)
        assert client.get(f"/api/games/arena/{path}?{name}={high + 1}").status_code == 400, (path, name)


# The document and the validation agree on bodies ----------------------------------------


def name_probe_code_points() -> list[int]:
    """Every BMP code point; beyond it, each one whose category differs from its predecessor's,
    and that predecessor (the name rules go by category, so these are the edges of every run)."""
    category = unicodedata.category
    edges = {e for cp in range(0x10001, 0x110000) if category(chr(cp)) != category(chr(cp - 1)) for e in (cp - 1, cp)}
    return [*range(0x10000), *sorted(edges)]


def test_the_name_pattern_is_the_validation_code_point_by_code_point():
    """The player and team names' pattern in the document against PlayerName's validation: the
    code point alone, after a letter, and before a space and a letter. With Python's re (how
    Hypothesis generates from it) everywhere; with a JSON Schema validator (ECMA-262 patterns,
    in Rust) on every 7th, surrogates left out (they cannot be encoded as UTF-8)."""
    pattern, adapter = re.compile(name_pattern()), TypeAdapter(PlayerName)
    validator = jsonschema_rs.Draft202012Validator({"type": "string", "pattern": name_pattern()})

    def valid(name: str) -> bool:
        try:
            adapter.validate_python(name)
        except ValidationError:
            return False
        return True

    disagree = []
    for n, cp in enumerate(name_probe_code_points()):
        for name in (chr(cp), f"a{chr(cp)}", f"{chr(cp)} b"):
            expected = valid(name)
            if bool(pattern.fullmatch(name)) != expected:
                disagree.append(f"U+{cp:04X} in {name!r}: re")
            if n % 7 == 0 and not 0xD800 <= cp <= 0xDFFF and validator.is_valid(name) != expected:
                disagree.append(f"U+{cp:04X} in {name!r}: JSON Schema")
    assert disagree == []


EVENT = {"id": "e", "player": "ada", "points": 1}
VALID = {
    "a plain event": EVENT,
    "a batch": {"events": [EVENT]},
    "at with a zone": {**EVENT, "at": "2026-11-21T19:00:00+05:30"},
    "a name with spaces, accents and a combining mark": {**EVENT, "player": " Zoë e\u0301 "},
    "a name of another script": {**EVENT, "player": "\u0410\u0434\u0430 \U0001f3ae"},
    "a Hangul filler beside a letter": {**EVENT, "player": "a\u3164b"},
    "stats alone (points 0)": {"id": "e", "player": "ada", "stats": {"kills": 1}},
    "a team": {**EVENT, "team": "red"},
}
INVALID = {
    "at as a number": {**EVENT, "at": 0},
    "at as a number in a batch": {"events": [{**EVENT, "at": 0}]},
    "at as a numeric string": {**EVENT, "at": "1763751600"},
    "at without a zone": {**EVENT, "at": "2026-11-21T19:00:00"},
    "a control character": {**EVENT, "player": "a\u0000b"},
    "a C1 control character": {**EVENT, "player": "a\u0085"},
    "a zero-width space": {**EVENT, "player": "a\u200bb"},
    "a bidi override": {**EVENT, "player": "\u202eada"},
    "a private-use character": {**EVENT, "player": "a\ue000"},
    "an unassigned code point": {**EVENT, "player": "a\u0378"},
    "a line separator": {**EVENT, "player": "a\u2028b"},
    "only a Hangul filler": {**EVENT, "player": "\u3164"},
    "only blanks": {**EVENT, "player": "   "},
    "only a combining mark": {**EVENT, "player": "\u0301"},
    "a team with a control character": {**EVENT, "team": "red\u0007"},
    "neither points nor stats": {"id": "e", "player": "ada"},
    "empty stats and no points": {"id": "e", "player": "ada", "stats": {}},
    "points among the stats": {**EVENT, "stats": {"points": 1}},
    "a stat name out of pattern": {**EVENT, "stats": {"Kills": 1}},
    "a reserved kind": {**EVENT, "kind": "correction"},
    "a float for points": {**EVENT, "points": 1.5},
    "an empty batch": {"events": []},
}


@pytest.fixture
def events_body_validator(doc):
    request = doc["paths"]["/api/games/{slug}/events"]["post"]["requestBody"]["content"]["application/json"]
    schema = {**request["schema"], "components": doc["components"]}
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


@pytest.mark.parametrize("name", [*VALID, *INVALID])
def test_the_document_and_the_api_agree_on_events(client, game, api_key, events_body_validator, name):
    body = VALID.get(name) or INVALID[name]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    declared = client.post("/api/games/arena/stats", json.dumps({"name": "kills"}), "application/json", **auth)
    assert declared.status_code == 201
    response = client.post("/api/games/arena/events", json.dumps(body), "application/json", **auth)
    expected = name in VALID
    assert events_body_validator.is_valid(body) is expected, "the document"
    assert (response.status_code == 202) is expected, response.content
