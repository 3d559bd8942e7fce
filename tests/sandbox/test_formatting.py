"""Entity parsing and length counting as Telegram does them (no server needed)."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.errors import ApiError
from sandbox.formatting import (
    format_text,
    normalize_parse_mode,
    parse_html,
    parse_markdown_v2,
    utf16_len,
)
from sandbox.markup import parse_reply_markup


def test_utf16_counts_astral_characters_twice() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("时间银行") == 4
    assert utf16_len("👍") == 2
    assert utf16_len("a👍b") == 4


def test_html_entities_and_offsets_in_utf16() -> None:
    text, entities = format_text("👍 <b>bold</b> <i>it</i> &lt;x&gt; &amp;", "HTML")
    assert text == "👍 bold it <x> &"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 4},
        {"type": "italic", "offset": 8, "length": 2},
    ]


def test_html_links_code_pre_language_spoiler_blockquote() -> None:
    src = (
        '<a href="https://example.org/?a=1&amp;b=2">link</a> <code>c</code> '
        '<pre><code class="language-python">x = 1</code></pre> '
        '<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>'
        "<blockquote expandable>q</blockquote>"
    )
    text, entities = format_text(src, "HTML")
    assert text == "link c x = 1 stq"
    kinds = {e["type"]: e for e in entities}
    assert kinds["text_link"]["url"] == "https://example.org/?a=1&b=2"
    assert kinds["pre"] == {"type": "pre", "offset": 7, "length": 5, "language": "python"}
    assert kinds["code"]["offset"] == 5
    assert kinds["expandable_blockquote"]["length"] == 1
    assert [e["type"] for e in entities].count("spoiler") == 2


@pytest.mark.parametrize(
    ("src", "reason"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("时<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 3'),
    ],
)
def test_malformed_html_is_rejected_like_telegram(src: str, reason: str) -> None:
    with pytest.raises(ApiError) as caught:
        format_text(src, "HTML")
    assert caught.value.code == 400
    assert caught.value.description == f"Bad Request: can't parse entities: {reason}"


@given(st.text(max_size=200))
def test_escaped_html_round_trips(text: str) -> None:
    plain, entities = parse_html(html.escape(text, quote=False))
    assert plain == text
    assert entities == []


@given(st.text(max_size=200))
def test_html_parser_never_crashes(text: str) -> None:
    try:
        parse_html(text)
    except Exception as exc:  # only the parse error is allowed
        assert type(exc).__name__ == "EntityParseError"


@given(st.text(max_size=200))
def test_markdown_v2_parser_never_crashes(text: str) -> None:
    try:
        parse_markdown_v2(text)
    except Exception as exc:
        assert type(exc).__name__ == "EntityParseError"


def test_markdown_v2_entities_and_reserved_characters() -> None:
    text, entities = format_text(
        r"*bold* _it_ __under__ ~s~ ||sp|| `co\`de` [l](https://e.org) 1\.5", "MarkdownV2"
    )
    assert text == "bold it under s sp co`de l 1.5"
    assert [e["type"] for e in entities] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "text_link",
    ]
    with pytest.raises(ApiError) as caught:
        format_text("Price: 1.5", "MarkdownV2")
    assert caught.value.description == (
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped "
        "with the preceding '\\'"
    )
    with pytest.raises(ApiError) as caught:
        format_text("*bold", "MarkdownV2")
    assert "Can't find end of Bold entity at byte offset 0" in caught.value.description


def test_legacy_markdown() -> None:
    text, entities = format_text("*b* _i_ `c` [l](http://x.y)", "Markdown")
    assert text == "b i c l"
    assert [e["type"] for e in entities] == ["bold", "italic", "code", "text_link"]
    with pytest.raises(ApiError):
        format_text("*open", "Markdown")


def test_text_is_stripped_and_commands_urls_mentions_detected() -> None:
    text, entities = format_text("  /start@timebank_bot hi @someone https://t.me/x  ", None)
    assert text == "/start@timebank_bot hi @someone https://t.me/x"
    assert [(e["type"], e["offset"], e["length"]) for e in entities] == [
        ("bot_command", 0, 19),
        ("mention", 23, 8),
        ("url", 32, 14),
    ]


def test_parse_mode_names_are_case_insensitive() -> None:
    assert normalize_parse_mode("html") == "HTML"
    assert normalize_parse_mode("markdownv2") == "MarkdownV2"
    assert normalize_parse_mode("") is None
    with pytest.raises(ApiError) as caught:
        normalize_parse_mode("html5")
    assert caught.value.description == "Bad Request: unsupported parse_mode"


def test_reply_markup_normalisation() -> None:
    markup = parse_reply_markup(
        '{"keyboard": [["Help", {"text": "Phone", "request_contact": true}]],'
        ' "resize_keyboard": true, "unknown": 1}'
    )
    assert markup == {
        "keyboard": [[{"text": "Help"}, {"text": "Phone", "request_contact": True}]],
        "resize_keyboard": True,
    }
    assert parse_reply_markup({"remove_keyboard": True}) == {"remove_keyboard": True}
    assert parse_reply_markup({"force_reply": True, "input_field_placeholder": "Name"}) == {
        "force_reply": True,
        "input_field_placeholder": "Name",
    }
    assert parse_reply_markup({"something": "else"}) is None


@pytest.mark.parametrize(
    ("markup", "description"),
    [
        ("{not json", "Bad Request: can't parse reply keyboard markup JSON object"),
        ("[1]", "Bad Request: object expected as reply markup"),
        ({"keyboard": ["Help"]}, 'Bad Request: field "keyboard" must be an Array of Arrays'),
        (
            {"inline_keyboard": [[{"text": "x"}]]},
            "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the "
            "inline keyboard",
        ),
        (
            {"inline_keyboard": [[{"callback_data": "x"}]]},
            "Bad Request: can't parse inline keyboard button: Can't find field \"text\"",
        ),
        (
            {"inline_keyboard": [[{"text": "x", "callback_data": "x" * 65}]]},
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {"inline_keyboard": [[{"text": "x", "callback_data": "时" * 22}]]},
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {"keyboard": [[{"text": 5, "request_contact": "maybe"}]]},
            'Bad Request: can\'t parse keyboard button: Field "request_contact" must be of type '
            "Boolean",
        ),
        ({"keyboard": "x"}, 'Bad Request: field "keyboard" must be of type Array'),
    ],
)
def test_malformed_reply_markup(markup: object, description: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_reply_markup(markup)
    assert caught.value.description == description


def test_callback_data_of_exactly_64_bytes_is_fine() -> None:
    markup = parse_reply_markup({"inline_keyboard": [[{"text": "x", "callback_data": "é" * 32}]]})
    assert markup is not None
