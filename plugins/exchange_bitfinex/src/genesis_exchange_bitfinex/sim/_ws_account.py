"""Authenticated side of the WS server: ``auth``, channel-0 filters and order inputs."""

from __future__ import annotations

import hmac
import uuid
from typing import Any

from genesis_exchange_bitfinex._auth import sign_ws

from . import _ops
from ._accounts import Account
from ._engine import Exchange
from ._orders import SimOrder, SimReject, order_text, rejection_array


_CAPS = {
    "orders": {"read": 1, "write": 1},
    "account": {"read": 1, "write": 0},
    "funding": {"read": 1, "write": 0},
    "history": {"read": 1, "write": 0},
    "wallets": {"read": 1, "write": 0},
    "withdraw": {"read": 0, "write": 0},
    "positions": {"read": 1, "write": 1},
    "ui_withdraw": {"read": 0, "write": 0},
}
_CATEGORY = {
    **dict.fromkeys(("os", "on", "ou", "oc", "te", "tu", "ps", "pn", "pu", "pc", "miu"), "trading"),
    **dict.fromkeys(("ws", "wu"), "wallet"),
    **dict.fromkeys(("fos", "fon", "fou", "foc", "fcs", "fls", "fte", "ftu", "fiu"), "funding"),
    "bu": "balance",
    "n": "notify",
}


class AccountSession:
    """Per-connection authentication state; ``send_account``/``send_event`` come from Conn."""

    def __init__(self) -> None:
        self.account: Account | None = None
        self.dms = False
        self.filters: list[str] | None = None

    def send_account(self, abbrev: str, payload: Any) -> None:
        raise NotImplementedError

    def send_event(self, event: dict[str, Any]) -> None:
        raise NotImplementedError

    def wants(self, abbrev: str, payload: Any) -> bool:
        """Apply the auth ``filter`` list: deliver if any filter matches the message category."""
        if self.filters is None:
            return True
        category = _CATEGORY.get(abbrev)
        if category is None:
            return True
        for flt in self.filters:
            if flt == category:
                return True
            if category == "trading" and flt.startswith("trading-") and isinstance(payload, list):
                symbol = (
                    payload[3]
                    if abbrev in ("os", "on", "ou", "oc")
                    else payload[1]
                    if (abbrev in ("te", "tu"))
                    else payload[0]
                    if payload
                    else None
                )
                if flt == f"trading-{symbol}":
                    return True
            if (
                category == "wallet"
                and isinstance(payload, list)
                and len(payload) > 1
                and flt == f"wallet-{payload[0]}-{payload[1]}"
            ):
                return True
        return False


def handle_auth(ex: Exchange, session: AccountSession, msg: dict[str, Any]) -> None:
    def fail(code: int, text: str) -> None:
        session.send_event(
            {"event": "auth", "status": "FAILED", "chanId": 0, "code": code, "msg": text}
        )

    account = ex.accounts.get(str(msg.get("apiKey", "")))
    if account is None:
        fail(10100, "apikey: invalid")
        return
    payload, sig = msg.get("authPayload"), msg.get("authSig")
    if not isinstance(payload, str) or not isinstance(sig, str) or not payload.startswith("AUTH"):
        fail(10100, "apikey: digest invalid")
        return
    if not hmac.compare_digest(sign_ws(account.spec.api_secret, payload), sig.lower()):
        fail(10100, "apikey: digest invalid")
        return
    nonce = msg.get("authNonce")
    nonce_int = int(nonce) if isinstance(nonce, int | str) and str(nonce).isdigit() else None
    if nonce_int is None or nonce_int <= account.last_nonce:
        fail(10114, "nonce: small")
        return
    account.last_nonce = nonce_int
    session.account = account
    session.dms = msg.get("dms") == 4
    filters = msg.get("filter")
    session.filters = [str(f) for f in filters] if isinstance(filters, list) else None
    reply: dict[str, Any] = {
        "event": "auth",
        "status": "OK",
        "chanId": 0,
        "userId": account.user_id,
        "auth_id": str(uuid.uuid4()),
        "caps": _CAPS,
    }
    if "subId" in msg:
        reply["subId"] = msg["subId"]
    session.send_event(reply)
    _send_snapshots(ex, session, account)


def _send_snapshots(ex: Exchange, session: AccountSession, account: Account) -> None:
    def send(abbrev: str, payload: Any) -> None:
        if session.wants(abbrev, payload):
            session.send_account(abbrev, payload)

    send("ps", ex.positions_wire(account))
    send("ws", ex.wallets_wire(account, with_available=False))
    send("os", [o.to_wire() for o in sorted(account.orders.values(), key=lambda o: o.id)])
    if session.filters is None:
        for abbrev in ("fos", "fcs", "fls"):
            send(abbrev, [])
    for row in ex.wallets_wire(account):
        send("wu", row)
    send("bu", ex.balance_info(account))


def _notify(ex: Exchange, account: Account, kind: str, data: Any, status: str, text: str) -> None:
    ex._emit(account.user_id, "n", [ex.now(), kind, None, None, data, None, status, text])


def handle_input(ex: Exchange, session: AccountSession, abbrev: Any, payload: Any) -> None:
    """Dispatch ``[0, abbrev, null, payload]`` inputs; outcomes go out as ``n`` + order events."""
    account = session.account
    assert account is not None
    if abbrev == "ox_multi" and isinstance(payload, list):
        for op in payload[:75]:
            if isinstance(op, list) and len(op) == 2:
                handle_input(ex, session, op[0], op[1])
        return
    if not isinstance(payload, dict):
        return
    try:
        if abbrev == "on":
            _input_new(ex, account, payload)
        elif abbrev == "ou":
            _ops.update_order(
                ex,
                account,
                payload,
                lambda os: _notify(
                    ex,
                    account,
                    "ou-req",
                    os[0].to_wire(),
                    "SUCCESS",
                    order_text(os[0], "update to ", ex.markets[os[0].symbol].base),
                ),
            )
        elif abbrev == "oc":
            _ops.cancel_order(
                ex,
                account,
                payload,
                lambda os: _notify(
                    ex,
                    account,
                    "oc-req",
                    os[0].to_wire(),
                    "SUCCESS",
                    f"Submitted for cancellation; waiting for confirmation (ID: {os[0].id}).",
                ),
            )
        elif abbrev == "oc_multi":
            _ops.cancel_multi(
                ex,
                account,
                payload,
                lambda os: _notify(
                    ex,
                    account,
                    "oc_multi-req",
                    [o.to_wire() for o in os],
                    "SUCCESS",
                    f"Submitting {len(os)} order cancellations.",
                ),
            )
        elif abbrev == "n":
            _notify(
                ex,
                account,
                str(payload.get("type", "ucm-")),
                payload.get("info"),
                "INFO",
                str(payload.get("message", "")),
            )
    except SimReject as exc:
        kind = f"{abbrev}-req"
        market = ex.markets.get(str(payload.get("symbol")))
        echo = rejection_array(payload, market.last_price if market else None)
        _notify(ex, account, kind, echo, "ERROR", exc.msg)


def _input_new(ex: Exchange, account: Account, payload: dict[str, Any]) -> None:
    def acknowledge(orders: list[SimOrder]) -> None:
        data = orders[0].to_wire() if len(orders) == 1 else [o.to_wire() for o in orders]
        text = order_text(orders[0], "", ex.markets[orders[0].symbol].base)
        _notify(ex, account, "on-req", data, "SUCCESS", text)

    ex.submit(account, payload, acknowledge)
