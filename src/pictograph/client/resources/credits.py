"""``client.credits``: the balance, the ledger, and cost estimates to check before paying."""

from __future__ import annotations

from pictograph.client._pager import OffsetPager
from pictograph.client.resources import Resource
from pictograph.models.credit import CreditBalance, CreditEstimate, CreditLedgerEntry

_PATH = "/api/v1/developer/credits"


class Credits(Resource):
    def balance(self) -> CreditBalance:
        """Credits left, the monthly allowance and its reset time, and the last 20 entries."""
        return self._parse(CreditBalance, self._transport.request("GET", f"{_PATH}/balance"))

    def history(self, *, limit: int = 50, offset: int = 0) -> list[CreditLedgerEntry]:
        """One page of the ledger, newest first; ``amount < 0`` is a debit."""
        body = self._transport.request(
            "GET", f"{_PATH}/history", params={"limit": limit, "offset": offset}
        )
        return self._parse_list(CreditLedgerEntry, body.get("entries"))

    def iter(
        self, *, page_size: int = 100, max_total: int | None = None
    ) -> OffsetPager[CreditLedgerEntry]:
        return OffsetPager(
            lambda offset, limit: self.history(limit=limit, offset=offset),
            page_size=page_size,
            max_total=max_total,
        )

    def estimate(self, operation: str, quantity: int = 1) -> CreditEstimate:
        """What ``quantity`` units of ``operation`` would cost, and whether the balance covers it.

        ValidationError for an operation slug the server does not price.
        """
        body = self._transport.request(
            "GET", f"{_PATH}/estimate", params={"operation": operation, "quantity": quantity}
        )
        return self._parse(CreditEstimate, body)
