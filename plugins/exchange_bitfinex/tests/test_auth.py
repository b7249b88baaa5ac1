"""Signing vectors from the reference, and nonce monotonicity across restarts."""

import json
import logging
from pathlib import Path

import pytest

from genesis_exchange_bitfinex._auth import (
    MAX_NONCE,
    Credentials,
    NonceSource,
    rest_auth_headers,
    rest_signature_payload,
    sign_rest,
    sign_ws,
    ws_auth_message,
)
from genesis_exchange_bitfinex.orders import OrderRequest


SECRET = "TEST_API_SECRET"


@pytest.mark.parametrize(
    ("path", "nonce", "body", "signature"),
    [
        (
            "auth/r/wallets",
            "1700000000000000",
            "",
            "74167b6fc6cb13d554e71e128dffe9250cb905eeccd2dcd49cf9a9a0e1c69b2695c47b2c39fb82b2954d46c78"
            "cc97b91",
        ),
        (
            "auth/r/wallets",
            "1700000000000001",
            "{}",
            "c07d48eba762545a56a0342b5a4fbf07ece66ffa6ec5d6b2b5b225622a9383384fc2f7d44b31aa4cfc295ff"
            "e18a9768d",
        ),
        (
            "auth/w/order/submit",
            "1700000000000002",
            '{"type":"EXCHANGE LIMIT","symbol":"tTESTBTC:TESTUSD","amount":"0.001","price":"30000",'
            '"cid":1700000000123,"flags":4096}',
            "a2d3434e899c2c4f1cf012969648b093c717e9dbd86a25d98e0c88f4dfbf0cdb713df7b05ec043e757417bb"
            "00f605792",
        ),
        (
            "auth/w/order/cancel",
            "1700000000000003",
            '{"id":1747566428}',
            "ecdeed515c3c64a4130d76a91b834e683b305ca5bfe3702b0cd1acf73042b4bcc6d15ba97a401199749c3d2"
            "e04c92dcf",
        ),
        (
            "auth/w/order/cancel",
            "1700000000000004",
            '{"id": 1747566428}',
            "2e397d5f9718a7929cdd5aaa0c51b7dad53f1d395fb2299dc8c227f050c56ad51911c22b93579985461823"
            "195aa9c563",
        ),
        (
            "auth/r/orders/tTESTBTC:TESTUSD/hist",
            "1700000000000005",
            '{"limit":2}',
            "224ca28afffb8da59f262d5244bfd9b37ba56a2040b5200b0789fa68358844a9363a6bd3d064ed24dd1a93f"
            "d5dea20d2",
        ),
        (
            "auth/r/order/tTESTBTC:TESTUSD:1747566430/trades",
            "1700000000000006",
            "",
            "cab7606245a0c1f7ed78c4b46f0b5ffba5f363771a1eff731953d41efde4ef745006731c198db957cc8fe9d"
            "e8ca6a3fe",
        ),
    ],
)
def test_rest_signature_vectors(path: str, nonce: str, body: str, signature: str) -> None:
    """S1-S7: HMAC-SHA384 over /api/v2/ + path + nonce + raw body."""
    assert sign_rest(SECRET, path, nonce, body) == signature


def test_a_float_order_is_signed_as_the_reference_s3_body() -> None:
    """Floats become their decimal text, not their binary expansion (0.001000000000000000020...)."""
    request = OrderRequest("EXCHANGE LIMIT", "tTESTBTC:TESTUSD", 0.001, price=30000.0,
                           cid=1700000000123, flags=4096)
    body = json.dumps(request.to_body(), separators=(",", ":"))
    assert body == (
        '{"type":"EXCHANGE LIMIT","symbol":"tTESTBTC:TESTUSD","amount":"0.001","price":"30000",'
        '"cid":1700000000123,"flags":4096}'
    )
    assert sign_rest(SECRET, "auth/w/order/submit", "1700000000000002", body).startswith("a2d3434e")


def test_rest_payload_shape_and_query_is_not_signed() -> None:
    assert rest_signature_payload("auth/r/wallets", "1700000000000000") == (
        "/api/v2/auth/r/wallets1700000000000000"
    )
    assert rest_signature_payload("/v2/auth/r/wallets?x=1", "5", b"{}") == (
        "/api/v2/auth/r/wallets5{}"
    )


@pytest.mark.parametrize(
    ("secret", "payload", "signature"),
    [
        (
            SECRET,
            "AUTH1700000000000000",
            "2841e908c03568e7d7711552aa900090213d0428e4b5754631f667363f70bc82947144ac42adafa35fcbc23"
            "b27ce25f4",
        ),
        (
            SECRET,
            "AUTH1700000000000007",
            "ce7f2a0228a3f7099cb9373865bb56bd2ab97ce057acf8c96777c555ca342e6f9f97720a984225a70437f5b"
            "1677d3f8e",
        ),
        (
            "apiSecret1",
            "AUTHnonce1",
            "6e7e3ab737bac9d36b6c3170356c9483edb0079cb65a2afa81efa9a6b906e0c3aeb16b574a44073dff4c0f6"
            "04adbdd7d",
        ),
    ],
)
def test_ws_signature_vectors(secret: str, payload: str, signature: str) -> None:
    """W1-W3 (W3 is the official Go client's own test value)."""
    assert sign_ws(secret, payload) == signature


def test_ws_auth_message_matches_reference_session() -> None:
    """The auth event of §4.7 is reproduced field for field."""
    msg = ws_auth_message(
        Credentials("TEST_API_KEY", SECRET),
        1700000000000007,
        dms=True,
        filters=["trading", "wallet", "balance", "notify"],
    )
    assert msg == {
        "event": "auth",
        "apiKey": "TEST_API_KEY",
        "authSig": "ce7f2a0228a3f7099cb9373865bb56bd2ab97ce057acf8c96777c555ca342e6f9f97720a984"
        "225a70437f5b1677d3f8e",
        "authPayload": "AUTH1700000000000007",
        "authNonce": 1700000000000007,
        "dms": 4,
        "filter": ["trading", "wallet", "balance", "notify"],
    }


def test_headers_and_credentials_repr_hide_the_secret() -> None:
    """Headers carry key/nonce/signature; reprs never show the secret or the full key."""
    creds = Credentials("MYKEY1234567890", "SUPERSECRET")
    headers = rest_auth_headers(creds, "auth/r/wallets", 1700000000000000)
    assert headers["bfx-nonce"] == "1700000000000000"
    assert len(headers["bfx-signature"]) == 96
    assert "SUPERSECRET" not in repr(creds)
    assert "MYKEY1234567890" not in repr(creds)
    assert "SUPERSECRET" not in str(creds)


def test_nonce_strictly_increasing_even_if_clock_goes_back() -> None:
    """max(clock, last + 1): a clock stepping backwards cannot repeat a nonce."""
    times = iter([1000, 2000, 1500, 1500, 900, 5000])
    source = NonceSource(clock_us=lambda: next(times))
    assert [source.next() for _ in range(6)] == [1000, 2000, 2001, 2002, 2003, 5000]


def test_nonce_survives_restart_with_a_slower_clock(tmp_path: Path) -> None:
    """A new source on the same file starts above every nonce the old one issued."""
    path = tmp_path / "nonce"
    first = NonceSource(path, clock_us=lambda: 5_000_000, lease_us=100)
    issued = [first.next() for _ in range(500)]
    assert issued == sorted(set(issued))
    # "restart" with a clock far in the past
    second = NonceSource(path, clock_us=lambda: 1, lease_us=100)
    assert second.next() > issued[-1]
    third = NonceSource(path, clock_us=lambda: 1, lease_us=0)
    assert third.next() > second.last


def test_nonce_file_corrupt_and_overflow(tmp_path: Path) -> None:
    path = tmp_path / "nonce"
    path.write_text("garbage")
    with pytest.raises(ValueError, match="corrupt"):
        NonceSource(path)
    source = NonceSource(clock_us=lambda: MAX_NONCE + 1)
    with pytest.raises(OverflowError):
        source.next()


def test_nonce_real_clock_is_microseconds(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    value = NonceSource().next()
    assert 1_600_000_000_000_000 < value < MAX_NONCE
