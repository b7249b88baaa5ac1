"""Error arrays and events map to typed exceptions by code, never by text."""

import pytest

from genesis_exchange_bitfinex import errors as e


@pytest.mark.parametrize(
    ("payload", "cls", "code"),
    [
        (
            ["error", 10001, "Invalid order: minimum size for BTCUSD is 0.00004"],
            e.OrderRejectedError,
            10001,
        ),
        (["error", 10020, "symbol: invalid"], e.ParamsError, 10020),
        (["error", 10100, "apikey: digest invalid"], e.AuthenticationError, 10100),
        (["error", 10114, "nonce: small"], e.NonceTooSmallError, 10114),
        (["error", 11010, "ratelimit: error"], e.RateLimitError, 11010),
        (["error", None, "ERR_RATE_LIMIT"], e.RateLimitError, 11010),
        ({"error": "ERR_RATE_LIMIT"}, e.RateLimitError, 11010),
        (["error", 11000, "ready: invalid"], e.NotReadyError, 11000),
        (["error", 20060, "maintenance"], e.MaintenanceError, 20060),
        (["error", 99999, "brand new"], e.BitfinexApiError, 99999),
        ({"event": "error", "msg": "subscribe: dup", "code": 10301}, e.SubscriptionError, 10301),
        ({"event": "error", "msg": "channel: unknown", "code": 10302}, e.SubscriptionError, 10302),
        (
            {"event": "error", "msg": "unsubscribe: invalid", "code": 10400},
            e.UnsubscriptionError,
            10400,
        ),
        ({"event": "error", "msg": "event: invalid (nope)", "code": 10000}, e.UnknownError, 10000),
    ],
)
def test_error_payloads_map_to_typed_exceptions(payload: object, cls: type, code: int) -> None:
    err = e.parse_error_payload(payload, http_status=500)
    assert type(err) is cls
    assert err is not None
    assert err.code == code
    assert err.http_status == 500


def test_non_errors_are_none() -> None:
    assert e.parse_error_payload([1]) is None
    assert e.parse_error_payload({"event": "info"}) is None
    assert e.parse_error_payload([["error"]]) is None


def test_nonce_error_is_an_authentication_error() -> None:
    assert issubclass(e.NonceTooSmallError, e.AuthenticationError)
    assert "10114" in str(e.error_for_code(10114, "nonce: small"))


def test_wire_format_error_names_field_and_truncates_value() -> None:
    err = e.WireFormatError("ORDER", "amount", "x" * 200, "expected a number")
    assert "ORDER.amount" in str(err)
    assert len(str(err)) < 160
