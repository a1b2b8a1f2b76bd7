"""A deliberately breakable issuer backend: the receivers of D1's outbound API in ~200 lines of plain
Flask, written from docs/wire-contract.md alone, with switchable defects.

With no defect it is a correct (if minimal) backend, independent of the reference one in `issuer/` —
so a clean rehearsal against it shows the rehearsal checks the contract, not one implementation.
Each defect is a mistake integration teams really make; the tests prove the rehearsal fails exactly
the cases that mistake breaks.

    python -m scenarios.broken_issuer --port 9000 --defect no_auth_check --defect slow_consumer
    d1sandbox rehearse --issuer-url http://127.0.0.1:9000
"""

from __future__ import annotations

import argparse
import hmac
import secrets
import time
import uuid

from flask import Flask, Response, jsonify, request

from d1sandbox import demo

# defect name -> what the backend then gets wrong
DEFECTS = {
    "token_accepts_wrong_secret": "the token endpoint issues a token whatever the client secret",
    "no_auth_check": "no receiver checks the bearer token",
    "otp_unprotected": "DeliverOTP alone skips the bearer-token check",
    "accepts_any_token": "receivers only check that a bearer header is present",
    "consumer_bad_phone": "consumer info gives the phone as '(617) 555-0102', not E.164",
    "consumer_wrong_types": "consumer info has a numeric phoneNumber and no consumerId",
    "consumer_non_json": "consumer info answers plain text",
    "unknown_consumer_200": "an unknown consumer gets made-up details with 200",
    "html_404": "404s are an HTML page, not a JSON error",
    "otp_500": "DeliverOTP crashes (500) on valid deliveries: the SMS gateway is down",
    "otp_accepts_malformed": "DeliverOTP does not validate its body",
    "otp_no_delivery_id": "DeliverOTP answers 200 with an empty body",
    "authentication_not_pending": "authenticate reports status STARTED instead of PENDING",
    "authentication_result_unknown_200": "an unknown authentication id gets status PENDING with 200",
    "authentication_not_idempotent": "a repeated authenticate for the same transactionId starts a second one",
    "notifications_accept_malformed": "consumer notifications are acknowledged without validation",
    "notifications_reject_duplicates": "a redelivered consumer notification (same eventId) gets 409",
    "threeds_notification_500": "3DS notifications crash (500)",
    "threeds_notification_accept_malformed": "3DS notifications are acknowledged without validation",
    "threeds_notification_reject_duplicates": "a redelivered 3DS notification (same operationId) gets 409",
    "slow_consumer": "consumer info takes `slow_seconds` to answer",
}

CLIENT_ID = demo.DEMO_OUTBOUND_CLIENT_ID
CLIENT_SECRET = demo.DEMO_OUTBOUND_CLIENT_SECRET
EVENT_TYPES = {"AUTHENTICATOR_ENROLLED", "AUTHENTICATOR_DELETED", "TOKEN_CREATED", "TOKEN_ACTIVATED",
               "TOKEN_SUSPENDED", "TOKEN_RESUMED", "TOKEN_DELETED", "TOKEN_DECLINED"}
TRANS_STATUSES = set("YNUACDRI")


def create_app(defects=(), *, slow_seconds: float = 0.5) -> Flask:
    unknown = set(defects) - set(DEFECTS)
    if unknown:
        raise ValueError(f"unknown defect(s) {sorted(unknown)}; known: {sorted(DEFECTS)}")
    defects = frozenset(defects)
    app = Flask(__name__)
    consumers = {c["consumerId"]: c for c in demo.CONSUMERS}
    tokens: set[str] = set()
    authentications: dict[str, dict] = {}
    by_transaction: dict[tuple[str, str], str] = {}  # one authentication per payment
    seen_events: set[tuple[str, str]] = set()  # notifications already stored (D1 redelivers)
    app.config["received"] = received = []  # what was acknowledged, for tests

    def error(status: int, code: str, message: str):
        if status == 404 and "html_404" in defects:
            return Response(f"<html><body><h1>Not Found</h1><p>{message}</p></body></html>", status=404,
                            mimetype="text/html")
        resp = jsonify({"error": code, "message": message})
        resp.status_code = status
        if status == 401:
            resp.headers["WWW-Authenticate"] = f'Bearer error="{code}"'
        return resp

    def authorized(receiver: str) -> bool:
        if "no_auth_check" in defects or (receiver == "otp" and "otp_unprotected" in defects):
            return True
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return False
        return "accepts_any_token" in defects or header[7:] in tokens

    def unauthorized():
        return error(401, "invalid_token", "a valid bearer token is required")

    def body_object():
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else None

    def known(issuer_id, consumer_id):
        return issuer_id == demo.DEMO_ISSUER_ID and consumer_id in consumers

    @app.post("/oauth2/token")
    def token():
        auth = request.authorization
        client_id = auth.username if auth else request.form.get("client_id", "")
        secret = auth.password if auth else request.form.get("client_secret", "")
        if request.form.get("grant_type") != "client_credentials":
            return error(400, "unsupported_grant_type", "only client_credentials")
        good = hmac.compare_digest(client_id or "", CLIENT_ID) and hmac.compare_digest(secret or "", CLIENT_SECRET)
        if not good and not (client_id == CLIENT_ID and "token_accepts_wrong_secret" in defects):
            return error(401, "invalid_client", "client authentication failed")
        value = secrets.token_urlsafe(24)
        tokens.add(value)
        return jsonify({"access_token": value, "token_type": "Bearer", "expires_in": 300})

    base = "/banking/d1/v1/issuers/<issuer_id>/consumers/<consumer_id>"

    @app.get(base)
    def consumer(issuer_id, consumer_id):
        if not authorized("consumer"):
            return unauthorized()
        if "slow_consumer" in defects:
            time.sleep(slow_seconds)
        if not known(issuer_id, consumer_id):
            if "unknown_consumer_200" not in defects:
                return error(404, "consumer_not_found", f"no consumer {consumer_id}")
            person = {"consumerId": consumer_id, "name": "Someone", "phone": "+16175550199",
                      "email": "someone@mail.example", "locale": "en"}
        else:
            person = consumers[consumer_id]
        if "consumer_non_json" in defects:
            return Response(f"consumer {consumer_id}: {person['phone']}", mimetype="text/plain")
        answer = {"consumerId": person["consumerId"], "name": person["name"], "phoneNumber": person["phone"],
                  "email": person["email"], "locale": person["locale"]}
        if "consumer_bad_phone" in defects:
            digits = person["phone"][2:]
            answer["phoneNumber"] = f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
        if "consumer_wrong_types" in defects:
            answer["phoneNumber"] = int(person["phone"][1:])
            del answer["consumerId"]
        return jsonify(answer)

    @app.post(base + "/otp")
    def deliver_otp(issuer_id, consumer_id):
        if not authorized("otp"):
            return unauthorized()
        body = body_object()
        if "otp_accepts_malformed" not in defects:
            if body is None:
                return error(400, "invalid_json", "a JSON object is required")
            bad = [name for name in ("otp", "transactionId") if not isinstance(body.get(name), str)]
            if body.get("channel") not in ("SMS", "EMAIL"):
                bad.append("channel")
            if bad:
                return error(422, "validation_error", f"invalid fields: {', '.join(bad)}")
        if not known(issuer_id, consumer_id):
            return error(404, "consumer_not_found", f"no consumer {consumer_id}")
        if "otp_500" in defects:
            return error(500, "internal_error", "SMS gateway unavailable")
        if "otp_no_delivery_id" in defects:
            return Response(status=200)
        received.append(("otp", consumer_id, body))
        return jsonify({"deliveryId": f"dlv-{uuid.uuid4().hex[:12]}", "status": "SENT"}), 202

    @app.post(base + "/authentication")
    def authenticate(issuer_id, consumer_id):
        if not authorized("authentication"):
            return unauthorized()
        body = body_object()
        if body is None or not isinstance(body.get("transactionId"), str):
            return error(422, "validation_error", "invalid fields: transactionId")
        if not known(issuer_id, consumer_id):
            return error(404, "consumer_not_found", f"no consumer {consumer_id}")
        key = (consumer_id, body["transactionId"])
        auth_id = by_transaction.get(key)
        if auth_id is None or "authentication_not_idempotent" in defects:
            auth_id = f"auth-{uuid.uuid4().hex[:16]}"
            authentications[auth_id] = {"consumer": consumer_id, "status": "PENDING"}
            by_transaction[key] = auth_id
        status = "STARTED" if "authentication_not_pending" in defects else "PENDING"
        return jsonify({"authenticationId": auth_id, "status": status}), 201

    @app.get(base + "/authentication/<authentication_id>")
    def authentication_result(issuer_id, consumer_id, authentication_id):
        if not authorized("authentication-result"):
            return unauthorized()
        found = authentications.get(authentication_id)
        if found is None or found["consumer"] != consumer_id:
            if "authentication_result_unknown_200" not in defects:
                return error(404, "authentication_not_found", f"no authentication {authentication_id}")
            found = {"status": "PENDING"}
        status = "STARTED" if "authentication_not_pending" in defects else found["status"]
        return jsonify({"authenticationId": authentication_id, "status": status, "decidedAt": None})

    @app.post(base + "/notifications")
    def consumer_notification(issuer_id, consumer_id):
        if not authorized("notifications"):
            return unauthorized()
        body = body_object()
        if "notifications_accept_malformed" not in defects:
            if body is None or body.get("eventType") not in EVENT_TYPES or not isinstance(body.get("eventId"), str):
                return error(422, "validation_error", "invalid fields: eventType/eventId")
        if body is not None and ("notification", str(body.get("eventId"))) in seen_events:
            if "notifications_reject_duplicates" in defects:
                return error(409, "duplicate_event", "event already received")
            return Response(status=204)  # acknowledged again, stored once
        seen_events.add(("notification", str((body or {}).get("eventId"))))
        received.append(("notification", consumer_id, body))
        return Response(status=204)

    @app.post("/notifications/d1/v1/issuers/<issuer_id>/cards/<card_id>/3ds/notifications")
    def threeds_notification(issuer_id, card_id):
        if not authorized("3ds-notification"):
            return unauthorized()
        body = body_object()
        if "threeds_notification_accept_malformed" not in defects:
            if body is None or body.get("transStatus") not in TRANS_STATUSES:
                return error(422, "validation_error", "invalid fields: transStatus")
        if "threeds_notification_500" in defects:
            return error(500, "internal_error", "database unavailable")
        if body is not None and ("3ds", str(body.get("operationId"))) in seen_events:
            if "threeds_notification_reject_duplicates" in defects:
                return error(409, "duplicate_operation", "operation already received")
            return Response(status=204)
        seen_events.add(("3ds", str((body or {}).get("operationId"))))
        received.append(("3ds", card_id, body))
        return Response(status=204)

    @app.get("/health")
    def health():
        return jsonify({"status": "ok", "defects": sorted(defects)})

    return app


def serve_in_thread(defects=(), *, host: str = "127.0.0.1", **kw):
    """Serve a breakable backend on a free port in a daemon thread: (base_url, stop). Werkzeug's threaded
    server, because it stops cleanly from another thread (`shutdown`)."""
    import threading

    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):  # tests and demos need no access log
            pass

    server = make_server(host, 0, create_app(defects, **kw), threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="broken-issuer")
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://{host}:{server.port}", stop


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scenarios.broken_issuer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--defect", action="append", default=[], choices=sorted(DEFECTS),
                        help="a mistake to make (repeatable)")
    parser.add_argument("--slow-seconds", type=float, default=4.0)
    args = parser.parse_args(argv)
    from waitress import serve

    print(f"breakable issuer backend on http://{args.host}:{args.port} with defects: {args.defect or 'none'}")
    serve(create_app(args.defect, slow_seconds=args.slow_seconds), host=args.host, port=args.port, threads=4)


if __name__ == "__main__":
    main()
