"""Live sequence diagrams from both services' journals.

Each service journals what *it* sent and received. D1 sees the 3DS Server, the browser, the wallet
and its own calls to the issuer backend; the reference issuer backend additionally sees what happens
on the bank's side — its SMS gateway handing an OTP to the phone network, its own calls to D1. One
flow's full picture is the union, so `merge_journals` interleaves the two journals of a transaction:

- A call between D1 and the issuer backend may be journaled by both sides; it is drawn once, from
  the *caller's* journal (the caller also saw failures the receiver never did: timeouts, refused
  connections).
- Entries are ordered by time. The journals are kept by two clocks (one in-process, two after
  `d1sandbox up`, which agree unless `/sandbox/clock` moved the simulator's), at millisecond
  precision; on a tie, the issuer backend's entries go inside the D1 call that was in flight
  (before the issuer's answer to D1), which is where they happened.

Pure functions over journal entries (the dicts `Journal.for_transaction` returns)."""

from __future__ import annotations

D1 = "D1"
ISSUER = "Issuer backend"


def caller(entry: dict) -> str:
    """Who started the exchange an entry belongs to: the sender of a request (or one-way message),
    the receiver of a response."""
    return entry["to"] if entry.get("kind") == "response" else entry["from"]


def between(entry: dict, a: str, b: str) -> bool:
    return {entry["from"], entry["to"]} == {a, b}


def merge_journals(d1_entries: list[dict], issuer_entries: list[dict], *, d1: str = D1,
                   issuer: str = ISSUER) -> list[dict]:
    """One ordered list from both journals of a transaction (see the module docstring)."""
    ours = [e for e in d1_entries if not (between(e, d1, issuer) and caller(e) == issuer)]
    theirs = [e for e in issuer_entries if not (between(e, d1, issuer) and caller(e) == d1)]
    theirs = _dedupe(theirs)
    merged: list[dict] = []
    i = j = 0
    while i < len(ours) or j < len(theirs):
        if j >= len(theirs):
            merged.append(ours[i])
            i += 1
        elif i >= len(ours):
            merged.append(theirs[j])
            j += 1
        else:
            a, b = ours[i], theirs[j]
            if b["at"] < a["at"] or (b["at"] == a["at"] and _answer_from(a, issuer, d1)):
                merged.append(b)
                j += 1
            else:
                merged.append(a)
                i += 1
    return merged


def _answer_from(entry: dict, issuer: str, d1: str) -> bool:
    return entry.get("kind") == "response" and entry["from"] == issuer and entry["to"] == d1


def _dedupe(entries: list[dict]) -> list[dict]:
    """The issuer journal is queried once per transaction id; an entry can come back for several."""
    seen, out = set(), []
    for entry in entries:
        if entry["id"] not in seen:
            seen.add(entry["id"])
            out.append(entry)
    return out
