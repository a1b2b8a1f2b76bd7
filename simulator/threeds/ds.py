"""Directory Server routing: which issuer's ACS serves a card number.

Issuers declare their card products' BIN ranges in their configuration
(`card_products[].bin_ranges[]` with `start`/`end` prefixes of equal length, see
`PUT /sandbox/issuers/{issuerId}`). A PAN belongs to a range when its first digits (as many as the
range's bounds have) lie between `start` and `end`; the longest matching prefix wins, like a real
DS's card-range table. A PAN outside every range gets Erro 305 ("Cardholder Account Number is not in
a range belonging to Issuer")."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    issuer_id: str
    scheme: str
    product: str


@dataclass(frozen=True)
class _Range:
    start: str
    end: str
    route: Route


class CardRanges:
    def __init__(self, ranges: list[_Range]):
        # Most specific (longest) prefixes first.
        self._ranges = sorted(ranges, key=lambda r: -len(r.start))

    @classmethod
    def from_configs(cls, configs: dict[str, dict]) -> "CardRanges":
        ranges = []
        for issuer_id, config in sorted(configs.items()):
            for product in config.get("card_products") or []:
                for bounds in product.get("bin_ranges") or []:
                    start, end = str(bounds.get("start", "")), str(bounds.get("end", ""))
                    if start.isdigit() and end.isdigit() and len(start) == len(end) and start <= end:
                        ranges.append(_Range(start, end, Route(issuer_id, product.get("scheme", "visa"),
                                                               product.get("name", ""))))
        return cls(ranges)

    def route(self, pan: str) -> Route | None:
        for entry in self._ranges:
            prefix = pan[:len(entry.start)]
            if len(prefix) == len(entry.start) and entry.start <= prefix <= entry.end:
                return entry.route
        return None

    def __len__(self) -> int:
        return len(self._ranges)


class RangeCache:
    """The card-range table of every onboarded issuer, rebuilt only when an issuer's configuration
    version changes (one indexed read per AReq to notice)."""

    def __init__(self, registry):
        self.registry = registry
        self._key: str | None = None
        self._table = CardRanges([])
        self._configs: dict[str, dict] = {}
        self._lock = threading.Lock()

    def table(self) -> CardRanges:
        """The current table (and, as a side effect, the issuer configurations it was built from,
        for `config()`: the AReq then needs no second look at the issuers table)."""
        key = self.registry.db.scalar(
            "SELECT group_concat(issuer_id || ':' || version, ',') FROM "
            "(SELECT issuer_id, version FROM issuers ORDER BY issuer_id)") or ""
        if key != self._key:
            with self._lock:
                configs = {row["issuer_id"]: self.registry.config(row["issuer_id"])
                           for row in self.registry.db.all("SELECT issuer_id FROM issuers")}
                self._table = CardRanges.from_configs(configs)
                self._configs = configs
                self._key = key
        return self._table

    def config(self, issuer_id: str) -> dict:
        """An issuer's configuration as of the last `table()` call."""
        config = self._configs.get(issuer_id)
        return config if config is not None else self.registry.config(issuer_id)

    def forget_cache(self) -> None:
        with self._lock:
            self._key = None
