"""Raw bytes → a valid message, or the Erro a certified component would answer. Pure: no I/O.

The checks run in the order a DS applies them, and the first failing one decides the Erro:

1. not UTF-8 / not JSON / not an object / not the expected messageType → 101
2. an element appears twice in one object → 204
3. messageVersion missing → 201; not 2.1.0, 2.2.0 or 2.3.1 → 102
4. required elements missing (per version, deviceChannel, messageCategory and the rest of the
   message) → 201
5. elements of another protocol version, wrong formats, lengths or values → 203
6. a critical message extension the receiver does not recognise → 202
7. transaction data that cannot go together (e.g. 3RI payment in 2.1.0) → 305

Each Erro names the offending element(s) in `errorDetail` and carries the transaction IDs it could
read. Whatever the body, this module returns; it never raises."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from . import messages as m

LATEST = m.V231


@dataclass
class Erro:
    """An EMV Erro answer waiting to be rendered (see `body()`)."""

    code: str
    detail: str
    component: str = m.DS
    message_type: str | None = None  # errorMessageType: the type of the message in error
    version: str = LATEST
    ids: dict = field(default_factory=dict)  # the transaction IDs the receiver could read
    explanation: str | None = None  # more words for errorDescription

    def body(self) -> dict:
        description = m.ERROR_CODES.get(self.code, "Error")
        if self.explanation:
            description = f"{description}: {self.explanation}"
        out: dict[str, Any] = {"messageType": "Erro", "messageVersion": self.version}
        for key in ("threeDSServerTransID", "dsTransID", "acsTransID", "sdkTransID"):
            if self.ids.get(key):
                out[key] = self.ids[key]
        out.update({"errorCode": self.code, "errorComponent": self.component,
                    "errorDescription": description[:2048], "errorDetail": (self.detail or "-")[:2048]})
        if self.message_type:
            out["errorMessageType"] = self.message_type
        return out


@dataclass
class Valid:
    """A message that passed every check of this module."""

    msg: dict
    version: str
    channel: str | None
    ids: dict


def readable_ids(msg: Any) -> dict:
    """The transaction IDs in `msg` that are well-formed UUIDs (an Erro echoes only those)."""
    if not isinstance(msg, dict):
        return {}
    return {key: msg[key] for key in ("threeDSServerTransID", "dsTransID", "acsTransID", "sdkTransID")
            if m.is_uuid(msg.get(key))}


class _DuplicateKeys:
    """json object_pairs_hook that remembers duplicated keys instead of silently keeping the last."""

    def __init__(self):
        self.names: list[str] = []

    def __call__(self, pairs: list) -> dict:
        out: dict = {}
        for key, value in pairs:
            if key in out and key not in self.names:
                self.names.append(key)
            out[key] = value
        return out


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes | str) -> tuple[Any, list[str], str | None]:
    """(value, duplicated keys, problem). `problem` is set when the body is not strict JSON text."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
    except UnicodeDecodeError:
        return None, [], "the message is not UTF-8 text"
    dupes = _DuplicateKeys()
    try:
        value = json.loads(text, object_pairs_hook=dupes, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None, [], "the message is not valid JSON"
    if "\\u" in text and _has_lone_surrogate(value):
        # "\ud800" parses in Python but is not a Unicode character: no component could store it.
        return None, [], "the message holds an invalid \\u escape (lone surrogate)"
    return value, dupes.names, None


def _has_lone_surrogate(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError, ValueError):
        return True
    return False


def check_message(raw: bytes | str, message: str, *, component: str = m.DS,
                  versions: tuple[str, ...] = m.VERSIONS, channel: str | None = None) -> Valid | Erro:
    """Steps 1-6 for any message type (AReq, CReq, RRes …). `channel`: the deviceChannel of the
    transaction when the receiver already knows it (CReq, RRes); an AReq names its own."""
    value, dupes, problem = parse_json(raw)
    if problem:
        return Erro("101", "message", component, explanation=problem)
    return check_parsed(value, dupes, message, component=component, versions=versions, channel=channel)


def check_parsed(value: Any, dupes: list[str], message: str, *, component: str = m.DS,
                 versions: tuple[str, ...] = m.VERSIONS, channel: str | None = None) -> Valid | Erro:
    if not isinstance(value, dict):
        return Erro("101", "message", component, explanation=f"the message is not a JSON object ({message} expected)")
    ids = readable_ids(value)
    kind = value.get("messageType")
    if kind != message:
        shown = repr(kind) if isinstance(kind, str) and len(kind) <= 16 else "missing or not a string"
        stated = value.get("messageVersion")
        return Erro("101", "messageType", component, version=stated if stated in versions else LATEST, ids=ids,
                    explanation=f"messageType is {shown}, this endpoint accepts {message}")

    stated = value.get("messageVersion")
    # The Erro speaks the sender's version when it is one the receiver supports, else the latest.
    reply_version = stated if stated in versions else LATEST

    def erro(code: str, detail: list[str] | str, explanation: str | None = None) -> Erro:
        detail_text = detail if isinstance(detail, str) else ", ".join(detail)
        return Erro(code, detail_text, component, message, reply_version, ids, explanation)

    if dupes:
        return erro("204", dupes, "each data element may appear once")
    version = value.get("messageVersion")
    if version is None:
        return erro("201", ["messageVersion"])
    if version not in versions:
        return erro("102", "messageVersion", f"supported versions are {', '.join(versions)}")

    if message == "AReq":
        channel = value.get("deviceChannel")
    if channel not in m.CHANNELS:
        channel = None
    absent = _missing(message, version, channel, value)
    if absent:
        return erro("201", absent)

    wrong_version = m.foreign(message, version, value)
    own = _own_elements(message, version, channel, value)
    problems = m.flatten(m.format_errors(message, version, own))
    if wrong_version or problems:
        names = wrong_version + [p for p in problems if p not in wrong_version]
        why = "not defined in this messageVersion" if wrong_version and not problems else None
        return erro("203", names, why)

    critical = [ext.get("id", "?") for ext in own.get("messageExtension") or []
                if isinstance(ext, dict) and ext.get("criticalityIndicator") is True]
    if critical:
        return erro("202", ", ".join(str(c) for c in critical),
                    "the receiver recognises no critical message extension")
    return Valid(own, version, channel, ids)


def _missing(message: str, version: str, channel: str | None, msg: dict) -> list[str]:
    if channel is not None:
        return m.missing(message, version, channel, msg)
    # The channel is unknown (or deviceChannel itself is wrong): only what every channel requires.
    return [e.name for e in m.elements(message, version)
            if e.channels == m.CHANNELS and e.name not in msg and e.is_required(msg)]


def _own_elements(message: str, version: str, channel: str | None, msg: dict) -> dict:
    """The elements that belong to this message in this version (and channel, for an AReq);
    other channels' elements are dropped, unknown names ignored."""
    if channel is not None:
        names = m.channel_names(message, version, channel)
    else:
        names = m.version_names(message, version)
    return {k: v for k, v in msg.items() if k in names}


def check_areq(raw: bytes | str) -> Valid | Erro:
    """The DS's checks of an incoming AReq (everything that needs no stored state)."""
    result = check_message(raw, "AReq")
    if isinstance(result, Erro):
        return result
    msg, version = result.msg, result.version
    if version == m.V210 and msg["deviceChannel"] == m.TRI and msg["messageCategory"] == m.PA:
        return Erro("305", "deviceChannel, messageCategory", m.DS, "AReq", version, result.ids,
                    "3RI payment authentication (deviceChannel 03 with messageCategory 01) needs 2.2.0 or later")
    return result
