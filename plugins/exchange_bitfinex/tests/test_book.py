"""Order-book checksum vectors (§3.6.3, §4.4) and the local book update rules."""

import pytest

from genesis_exchange_bitfinex._book import LocalBook, crc32_signed
from genesis_exchange_bitfinex._jsonnum import loads_raw_numbers


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("6000:1:6100:-3:5900:2:6200:-4", 1756193398),
        ("100:1:102:-3:101:2:103:-4", 1841538801),
        ("6000:1:6100:-3:0.000000017:2:6200:-4", -931816132),
        ("30000.5:0.75:30001:-0.5:30000:0.1:30002.5:-1.25:29999:1.2:30010:-0.03", 1992911288),
        ("30000.5:0.75:30002.5:-1.25:30000:0.35:30010:-0.03:29999:1.2", -1546117819),
        ("1747000001:0.5:1747000005:-0.5:1747000002:0.25", 540890644),
        ("1747000001:0.5:1747000005:-0.5", -426801307),
    ],
)
def test_crc32_vectors(text: str, value: int) -> None:
    assert crc32_signed(text) == value


P0_SNAPSHOT = (
    "[17473,[[30000.5,2,0.75],[30000,1,0.1],[29999,3,1.2],[30001,1,-0.5],"
    "[30002.5,2,-1.25],[30010,1,-0.03]]]"
)
R0_SNAPSHOT = (
    "[17474,[[1747000001,30000.5,0.5],[1747000002,30000.5,0.25],[1747000003,30000,0.1],"
    "[1746999990,29999,0.5],[1746999991,29999,0.4],[1746999992,29999,0.3],"
    "[1747000005,30001,-0.5],[1747000006,30002.5,-1],[1747000007,30002.5,-0.25],"
    "[1747000008,30010,-0.03]]]"
)


def test_p0_session_checksums() -> None:
    """The §4.4 session: 1992911288 -> 849355714 -> -1546117819 -> -787241068."""
    book = LocalBook()
    book.apply_snapshot(loads_raw_numbers(P0_SNAPSHOT)[1])
    assert book.checksum() == 1992911288
    book.apply_update(loads_raw_numbers("[17473,[30001,0,-1]]")[1])
    assert book.checksum() == 849355714
    book.apply_update(loads_raw_numbers("[17473,[30000,2,0.35]]")[1])
    assert book.checksum() == -1546117819
    book.apply_update(loads_raw_numbers("[17473,[30000.5,2,0.7]]")[1])
    assert book.checksum() == -787241068


def test_r0_session_checksums() -> None:
    """Raw book: 278734410 -> -1222772828 -> 46423033 -> -2105199371."""
    book = LocalBook(raw=True)
    book.apply_snapshot(loads_raw_numbers(R0_SNAPSHOT)[1])
    assert book.checksum() == 278734410
    book.apply_update(["1747000005", "0", "-1"])
    assert book.checksum() == -1222772828
    book.apply_update(["1747000010", "30000", "0.25"])
    assert book.checksum() == 46423033
    book.apply_update(["1747000001", "30000.5", "0.45"])
    assert book.checksum() == -2105199371


def test_book_sides_and_malformed_rows() -> None:
    book = LocalBook()
    book.apply_snapshot(loads_raw_numbers(P0_SNAPSHOT)[1])
    assert str(book.bids()[0][0]) == "30000.5"
    assert str(book.asks()[0][0]) == "30001"
    book.truncate(1)
    assert len(book.bids()) == 1
    from genesis_exchange_bitfinex.errors import WireFormatError

    with pytest.raises(WireFormatError, match="BOOK"):
        book.apply_update(["1", "2"])
    with pytest.raises(WireFormatError, match=r"BOOK\.price"):
        book.apply_update(["abc", "1", "1"])
