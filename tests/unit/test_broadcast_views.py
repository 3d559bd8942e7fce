"""How broadcasts read in the chat: the announcement as members get it (escaped, in parts,
with its buttons), the coordinator's progress message, report and history, and the
composer's own small parsers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time

import pytest

from bot.conversations import broadcast as composer
from bot.handlers.broadcasts import views
from bot.handlers.broadcasts.callbacks import ComeToEvent, Steer, SteerBroadcast
from bot.i18n import create_i18n
from core.broadcasts import Button, HistoryLine, Message, Progress
from core.broadcasts.audience import AudienceCount
from core.broadcasts.delivery import LanguageFigures

HOSTILE = "<b>&Tom</b>"


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    i18n = create_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        yield


def _progress(status: str, **fields) -> Progress:
    values = {
        "broadcast_id": 7,
        "status": status,
        "total": 10,
        "sent": 6,
        "waiting": 3,
        "not_delivered": {"blocked": 1},
        "by_language": {"ko": LanguageFigures(4, 3, 1), "en": LanguageFigures(6, 3, 0)},
        "eta_seconds": 3,
        "expanded": True,
    }
    return Progress(**(values | fields))


def _labels(markup) -> list[str]:
    return [button.text for row in (markup.inline_keyboard if markup else []) for button in row]


def test_the_announcement_is_shown_as_written_in_parts_under_its_photo() -> None:
    message = Message(
        language="en",
        parts=(f"Market day with {HOSTILE}", "Second part"),
        photo_file_id="poster",
        buttons=(
            Button.link("https://example.org/market", {"en": "More", "ko": "자세히"}),
            Button.coming(3),
        ),
    )
    screen = views.broadcast_screen(message, 7, "ko")
    assert screen.text == "Market day with &lt;b&gt;&amp;Tom&lt;/b&gt;"
    assert screen.more == ("Second part",)
    assert screen.photo == "poster"
    link, come = [button for row in screen.markup.inline_keyboard for button in row]
    assert (link.text, link.url) == ("자세히", "https://example.org/market")
    assert come.text == "🙋 I'll come"
    assert ComeToEvent.unpack(come.callback_data).broadcast_id == 7


def test_an_announcement_without_buttons_has_no_keyboard() -> None:
    message = Message(language="en", parts=("Hello",), photo_file_id=None, buttons=())
    screen = views.broadcast_screen(message, 1, "en")
    assert (screen.markup, screen.photo, screen.more) == (None, None, ())


@pytest.mark.parametrize(
    ("status", "buttons"),
    [
        ("sending", ["⏸ Pause", "✖️ Stop sending"]),
        ("paused", ["▶️ Resume", "✖️ Stop sending"]),
        ("done", []),
        ("cancelled", []),
    ],
)
def test_the_progress_message_offers_what_can_be_done_now(status: str, buttons: list) -> None:
    progress = _progress(status)
    assert _labels(views.progress_buttons(progress)) == buttons
    markup = views.progress_buttons(progress)
    for row in markup.inline_keyboard if markup else []:
        for button in row:
            data = SteerBroadcast.unpack(button.callback_data)
            assert data.broadcast_id == 7 and data.action in set(Steer)


def test_progress_counts_sent_not_delivered_and_time_left() -> None:
    text = views.progress_text(_progress("sending"), HOSTILE)
    assert "&lt;b&gt;&amp;Tom&lt;/b&gt;" in text
    assert "Sending: 6 of 10 sent" in text
    assert "Not delivered: 1 (blocked the bot 1)" in text
    assert "About 3 seconds left" in text
    paused = views.progress_text(_progress("paused"), "x")
    assert "⏸ Paused" in paused and "left" not in paused
    assert "✅ Done: sent to 6 of 10." in views.progress_text(_progress("done"), "x")
    growing = views.progress_text(_progress("sending", expanded=False), "x")
    assert "Sending: 6 of 10 so far sent" in growing


def test_the_time_left_is_in_minutes_once_it_is_more_than_one() -> None:
    assert views.eta_text(59) == "About 59 seconds left"
    assert views.eta_text(61) == "About 2 min left"


def test_the_report_counts_each_language() -> None:
    text = views.report_text(_progress("done", coming=2), "Market")
    assert "Sent to 6 of 10 members." in text
    assert "• 한국어: 3 of 4 sent, 1 not delivered" in text
    assert "• English: 3 of 6 sent, 0 not delivered" in text
    assert "🙋 2 said they will come" in text
    assert "中文" not in text


def test_the_audience_count_names_who_is_left_out() -> None:
    counted = AudienceCount(
        by_language={"zh_Hans": 5, "en": 2}, without_text={"ko": 3}, opted_out=4, blocked=1
    )
    reach = views.audience_text(counted)
    assert "This reaches <b>10</b> members" in reach
    assert "• 한국어: 3" in reach
    assert "4 who turned announcements off, 1 who blocked the bot" in reach
    summary = views.send_summary(counted)
    assert "Ready to send to <b>7</b> members." in summary
    assert "• 3 who read 한국어 get nothing" in summary
    assert views.audience_text(AudienceCount()).startswith("Nobody")


def test_history_escapes_names_and_words() -> None:
    at = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
    line = HistoryLine(
        broadcast_id=1, author_name=HOSTILE, created_at=at, started_at=at, status="done",
        languages=("en", "ko"), opening="", total=10, sent=9, coming=2,
        texts={"en": f"Hello {HOSTILE}", "ko": "안녕하세요"},
    )  # fmt: skip
    text = views.history_text([line], "Asia/Shanghai")
    assert HOSTILE not in text
    assert "&lt;b&gt;&amp;Tom&lt;/b&gt;" in text
    assert "Sent to 9 of 10 · 🙋 2 said they will come" in text
    assert "9:30" in text  # the branch's time
    assert views.history_text([], "UTC").startswith("📣 No announcements yet")


def test_the_opening_is_the_readers_language_cut_short() -> None:
    texts = {"zh_Hans": "友邻集市", "en": "word " * 40}
    assert views.opening(texts, "zh_Hans") == "友邻集市"
    assert views.opening(texts, "ko") == "友邻集市"
    cut = views.opening(texts, "en")
    assert len(cut) == 60 and cut.endswith("…")


def test_the_announcements_setting_is_one_tap_each_way() -> None:
    assert _labels(views.announcements_buttons(True)) == ["🔕 Turn them off"]
    assert _labels(views.announcements_buttons(False)) == ["📣 Turn them on"]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("9:30", time(9, 30)), ("18", time(18)), ("14：05", time(14, 5)), ("25:00", None),
     ("soon", None), ("", None)],
)  # fmt: skip
def test_the_composer_reads_a_typed_time(typed: str, expected: time | None) -> None:
    assert composer._parse_hour(typed) == expected


def test_the_composer_asks_each_language_the_audience_reads_and_names_the_empty_ones() -> None:
    data = {"reads": {"en": 3, "zh_Hans": 5}, "texts": {"zh_Hans": "你好"}}
    assert composer._to_write(data) == ["zh_Hans", "en"]
    assert composer._missing(data) == {"en": 3}


def test_the_composer_counts_one_reader_in_the_singular() -> None:
    one = {"reads": {"en": 1, "ko": 1}, "texts": {"en": "Hello"}}
    assert "1 member reads it." in composer.text_question("en", one).text
    assert "1 members" not in composer.text_question("en", one).text
    assert "3 members read it." in composer.text_question("en", {"reads": {"en": 3}}).text
    fallback = composer.fallback_question(one).text
    assert fallback.startswith("1 member reads 한국어, and there is no text in it.")
