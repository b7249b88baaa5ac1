"""Rendering alerts as Telegram HTML, escaping, and splitting past the 4096-character limit."""

from __future__ import annotations

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from genesis_core import Alert
from genesis_notify_telegram import format_alert, split_html

from ._fake_telegram import parse_html, utf16
from ._support import CHAT, T0, make, wait_until


def test_everything_from_data_is_escaped() -> None:
    text = format_alert(Alert("rule<x>", "critical", "<b>bold</b> & co", "1 < 2 > 0 & \"q\"",
                              T0, "BTC<USD>", {"why": "<script>alert(1)</script>"}))
    assert "<script>" not in text
    assert "<b>bold</b>" not in text
    assert "🚨 <b>&lt;b&gt;bold&lt;/b&gt; &amp; co</b> <code>BTC&lt;USD&gt;</code>" == (
        text.splitlines()[0])
    assert "1 &lt; 2 &gt; 0 &amp; &quot;q&quot;" == text.splitlines()[1]
    assert "why: <code>&lt;script&gt;alert(1)&lt;/script&gt;</code>" == text.splitlines()[2]
    assert "<i>rule&lt;x&gt; · 2013-10-01T04:00Z</i>" == text.splitlines()[3]
    assert ("🚨 <b>bold</b> & co BTC<USD>\n1 < 2 > 0 & \"q\"\nwhy: <script>alert(1)</script>\n"
            "rule<x> · 2013-10-01T04:00Z") == parse_html(text)


def test_short_text_is_one_part() -> None:
    assert ["<b>hi</b>"] == split_html("<b>hi</b>")


def test_split_closes_and_reopens_tags_and_never_cuts_an_entity() -> None:
    text = "<b>" + "&amp;" * 30 + "</b>"
    parts = split_html(text, limit=40)
    for part in parts:
        assert utf16(part) <= 40
        parse_html(part)  # well-formed on its own
        assert part.startswith("<b>")
        assert part.endswith("</b>")
    assert "&" * 30 == "".join(parse_html(p) for p in parts)


def test_split_prefers_line_breaks() -> None:
    lines = [f"line {i:02d} <i>x</i>" for i in range(20)]
    parts = split_html("\n".join(lines), limit=100)
    assert all(part.endswith("\n") or part == parts[-1] for part in parts)
    assert all(not part.lstrip("\n").startswith("<i>x") for part in parts)


def test_split_counts_utf16_units() -> None:
    parts = split_html("🚨" * 100, limit=50)  # each emoji is 2 UTF-16 units
    assert [25, 25, 25, 25] == [len(p) for p in parts]


PIECES = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12),
    st.sampled_from(["\n", " ", "🚨", "é"]),
)


@st.composite
def html_documents(draw: st.DrawFn) -> str:
    """Random well-formed Telegram HTML: escaped text, nested tags, links."""
    import html

    def node(depth: int) -> str:
        out = []
        for _ in range(draw(st.integers(0, 5))):
            kind = draw(st.integers(0, 3 if depth < 3 else 1))
            if kind <= 1:
                out.append(html.escape(draw(PIECES)))
            else:
                tag = draw(st.sampled_from(["b", "i", "code", "u", 'a href="https://x.y/?a=1&amp;b"']))
                name = tag.split()[0]
                out.append(f"<{tag}>{node(depth + 1)}</{name}>")
        return "".join(out)

    return node(0)


@settings(max_examples=300, deadline=None)
@given(html_documents(), st.integers(min_value=60, max_value=300))
def test_every_part_is_valid_html_within_the_limit(text: str, limit: int) -> None:
    parts = split_html(text, limit=limit)
    assert all(utf16(part) <= limit for part in parts)
    assert parse_html(text) == "".join(parse_html(part) for part in parts)


def test_a_long_alert_arrives_in_parts_that_telegram_accepts(fake, clock) -> None:
    message = "\n".join(f"row {i}: a < b & c > d " + "x" * 60 for i in range(200))

    async def main() -> None:
        notifier = make(fake, clock)
        await notifier.notify(Alert("long", "high", "long report", message, T0, "BTCUSD"))
        await wait_until(lambda: notifier.pending == 0)
        await notifier.aclose()

    anyio.run(main)
    parts = fake.texts(CHAT)
    assert 5 == len(parts)
    assert all(utf16(p) <= 4096 for p in parts)
    tags = [p.rsplit("\n", 1)[1] for p in parts]
    assert [f"<i>#1 · part {n}/5</i>" for n in range(1, 6)] == tags
    visible = "".join(parse_html(p.rsplit("\n", 1)[0]) for p in parts)
    assert message in visible
