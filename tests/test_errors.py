"""Garbage to every route of both services: always JSON, never a 500, never a stack trace."""

import pytest

GARBAGE = [b"", b"{", b"[]", b"null", b'{"a": 1}', b"\xff\xfe\x00", b"x" * 5000, b'{"advance_seconds": "soon"}',
           # Found by fuzzing: nesting deeper than the interpreter recurses, and an integer longer than
           # Python converts (4300 digits), both used to escape the JSON parser as a 500.
           b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000, b'{"x": ' + b"9" * 5000 + b"}"]


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<{arg}>", "zz-unknown").replace(f"<path:{arg}>", "zz")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path


@pytest.mark.parametrize("service", ["sim", "issuer"])
def test_every_route_answers_garbage_with_json_4xx(service, world):
    app = world.sim_app if service == "sim" else world.issuer_app
    client = app.test_client()
    routes = list(_routes(app))
    assert len(routes) >= 3
    for method, path in routes:
        for body in GARBAGE:
            resp = client.open(path, method=method, data=body, content_type="application/json")
            assert resp.status_code < 500, (method, path, body[:20], resp.status_code, resp.data[:200])
            if resp.status_code >= 400:
                assert resp.is_json, (method, path)
                assert {"error", "message"} <= set(resp.json), (method, path)
                assert "Traceback" not in resp.get_data(as_text=True)


def test_unknown_route_is_json_404(sim, issuer):
    for client in (sim, issuer):
        resp = client.get("/definitely/not/here")
        assert resp.status_code == 404 and resp.json["error"] == "not_found"


def test_wrong_method_is_json_405(sim):
    resp = sim.delete("/health")
    assert resp.status_code == 405 and resp.json["error"] == "method_not_allowed"


def test_unexpected_exception_becomes_generic_json_500(world):
    app = world.sim_app

    @app.get("/boom-test-only")
    def boom():
        raise KeyError("secret-detail-4000000003000009")

    resp = app.test_client().get("/boom-test-only")
    assert resp.status_code == 500
    assert resp.json == {"error": "internal_error", "message": "the sandbox hit an internal error; see the server log"}


def test_openapi_and_docs_on_both_services(sim, issuer):
    for client in (sim, issuer):
        spec = client.get("/openapi.json").json
        assert spec["openapi"].startswith("3.")
        assert "/health" in spec["paths"]
        page = client.get("/docs")
        assert page.status_code == 200 and b"/openapi.json" in page.data
    assert "/sandbox/issuers/{issuer_id}" in sim.get("/openapi.json").json["paths"]
