"""How a market day reads in the chat: the event view, slots, a booking, the report and the
shift list, in three languages, with members' words escaped; and what the wizard parses."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.conversations.market import parse_day, parse_day_and_hours, parse_hours, parse_names
from bot.handlers.market import views
from bot.handlers.market.callbacks import Act, Market
from core.errors import DomainError
from core.market import Booking, BranchMarkets, CheckIn, EventView, ShiftLine, UnitReport
from core.market.events import SlotView, UnitView
from core.market.tables import BookingStatus, EventStatus, ShiftStatus
from tests.bot.lang import _i18n

HOSTILE = "<b>&Tom</b>"
SAFE = "&lt;b&gt;&amp;Tom&lt;/b&gt;"
# Thursday 3 December 2026, 17:00 in Shanghai; the market day is on Saturday the 12th.
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
STARTS = datetime(2026, 12, 12, 1, 0, tzinfo=UTC)


def say(lang: str, render):
    i18n = _i18n()
    with i18n.context(), i18n.use_locale(lang):
        return render()


def event(
    *, free: int = 2, status: str = EventStatus.OPEN, walk_in_name: str = HOSTILE
) -> EventView:
    half = timedelta(minutes=30)
    slots = tuple(
        SlotView(10 + n, STARTS + half * n, STARTS + half * (n + 1), free if n == 0 else 0, 6)
        for n in range(3)
    )
    return EventView(
        event_id=5, branch_id=1, time_zone="Asia/Shanghai",
        names={"zh_Hans": "友邻集市", "ko": "이웃 장터", "en": HOSTILE},
        starts_at=STARTS, ends_at=STARTS + timedelta(hours=2, minutes=30),
        venue_address="<i>Plaza</i> & 300", latitude=None, longitude=None,
        status=status, version=3,
        units=(
            UnitView(7, {"en": "Haircuts", "zh_Hans": "理发", "ko": "이발"}, HOSTILE, False, slots),
            UnitView(8, {"en": walk_in_name}, "", True, ()),
        ),
    )  # fmt: skip


def test_the_announcement_link_opens_the_event_view() -> None:
    assert views.event_link("@timebank_bot", 5) == "https://t.me/timebank_bot?start=ev-5"
    markup = say("en", lambda: views.event_button("timebank_bot", 5))
    assert markup.inline_keyboard[0][0].url == "https://t.me/timebank_bot?start=ev-5"


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
def test_the_event_view_escapes_names_and_lists_units_with_free_places(lang) -> None:
    text = say(lang, lambda: views.event_text(event(), NOW))
    assert HOSTILE not in text and "<i>" not in text
    assert SAFE in text  # the walk-in stand's hostile name
    assert "12" in text  # the day of the month
    markup = say(lang, lambda: views.event_buttons(event(), NOW, views.Roles()))
    labels = [b.text for row in markup.inline_keyboard for b in row]
    assert any("2" in label for label in labels[:1])
    data = Market.unpack(markup.inline_keyboard[0][0].callback_data)
    assert (data.action, data.event, data.item) == (Act.UNIT, 5, 7)
    assert len([b for b in labels if b.startswith(HOSTILE)]) == 0  # walk-in: no button


def test_only_a_coordinator_gets_the_report_and_a_volunteer_the_shifts() -> None:
    def labels(roles: views.Roles) -> list[str]:
        markup = say("en", lambda: views.event_buttons(event(), NOW, roles))
        return [b.text for row in markup.inline_keyboard for b in row]

    assert "📊 Report" not in labels(views.Roles(volunteer=True))
    assert "🙋 Help at a stand" in labels(views.Roles(volunteer=True))
    assert "✅ Check people in" not in labels(views.Roles(volunteer=True))
    assert {"📊 Report", "👥 Shifts", "✅ Check people in"} <= set(
        labels(views.Roles(staff=True, coordinator=True))
    )


def test_a_full_stand_offers_its_waiting_list_and_a_called_off_day_no_booking() -> None:
    full = event(free=0)
    unit = full.units[0]
    assert "waiting list" in say("en", lambda: views.slots_text(full, unit, NOW))
    labels = [
        b.text
        for row in say("en", lambda: views.slot_buttons(full, unit)).inline_keyboard
        for b in row
    ]
    assert labels[0] == "9:00\u202fAM · waiting list"
    off = event(status=EventStatus.CANCELLED)
    assert "called off" in say("en", lambda: views.event_text(off, NOW))
    assert say("en", lambda: views.event_buttons(off, NOW, views.Roles())) is None


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
def test_a_booking_names_its_number_time_and_whom_it_is_for(lang) -> None:
    booking = Booking(1, 5, 7, 10, 9, 12, "tok", BookingStatus.BOOKED, STARTS)
    text = say(lang, lambda: views.booking_text(booking, event(), NOW, resident_name=HOSTILE))
    assert "<b>12</b>" in text and SAFE in text and HOSTILE not in text
    assert "&lt;i&gt;Plaza&lt;/i&gt; &amp; 300" in text
    waiting = Booking(1, 5, 7, 10, 9, 12, "tok", BookingStatus.WAITING, STARTS, 2)
    assert "2" in say(lang, lambda: views.status_text(waiting))


def test_check_in_report_and_shifts_escape_members_names() -> None:
    checked = say(
        "en", lambda: views.checked_in_text(CheckIn(1, 12, 7, HOSTILE, False), {"en": HOSTILE})
    )
    assert checked.startswith("✅ Number 12") and HOSTILE not in checked and SAFE in checked
    report = UnitReport(7, {"en": HOSTILE}, HOSTILE, 5, 3, 2, 1, 0, 2, 300)
    text = say("en", lambda: views.report_text(event(), [report], NOW))
    assert HOSTILE not in text
    assert "Booked 5 · checked in 3 · walk-ins 2 · no-shows 1" in text
    assert "Residents served 5 · volunteers 2, 5 hours" in text
    line = ShiftLine(4, 7, {"en": "Haircuts"}, 2, HOSTILE, STARTS, STARTS + timedelta(hours=2),
                     ShiftStatus.SIGNED_UP, 120, None)  # fmt: skip
    over = STARTS + timedelta(hours=3)
    shown = say("en", lambda: views.shifts_text(event(), [line], {4: 0}, over))
    assert HOSTILE not in shown and "did not come" in shown
    markup = say("en", lambda: views.shifts_buttons(event(), [line], {4: 0}, over))
    confirm = Market.unpack(markup.inline_keyboard[1][0].callback_data)
    assert (confirm.action, confirm.n) == (Act.CONFIRM, 1)


def test_the_wizard_reads_names_days_and_hours() -> None:
    assert say("en", lambda: parse_names("理发\n이발\nHaircuts", "en")) == {
        "zh_Hans": "理发", "ko": "이발", "en": "Haircuts",
    }  # fmt: skip
    assert parse_names("  Free  haircuts ", "ko") == {"ko": "Free haircuts"}
    assert parse_names("理发\n-\nHaircuts", "en") == {"zh_Hans": "理发", "en": "Haircuts"}
    with pytest.raises(DomainError):
        parse_names("one\ntwo", "en")
    today = date(2026, 12, 3)
    assert parse_day("2026-12-12", today) == date(2026, 12, 12)
    assert say("en", lambda: parse_day("12.1", today)) == date(2027, 1, 12)
    assert say("zh_Hans", lambda: parse_day("1/12", today)) == date(2027, 1, 12)
    assert parse_day("2026-02-30", today) is None
    assert parse_hours("9:00-11:30") == (time(9), time(11, 30))
    assert parse_hours("14–17") == (time(14), time(17))
    assert parse_hours("11:00-9:00") is None
    assert parse_hours("25:00-26:00") is None


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
def test_the_branch_totals_count_walk_ins_among_residents_served(lang) -> None:
    figures = BranchMarkets(
        markets=7, units=30, bookings=3500, residents_served=3600, distinct_residents=2100,
        walk_ins=400, volunteers=40, volunteer_minutes=6000,
    )  # fmt: skip
    text = say(lang, lambda: views.totals_text(figures))
    assert "4,000" in text and "2,100" in text and "7" in text and "100" in text


@pytest.mark.parametrize(
    ("lang", "one", "four"),
    [
        ("en", "1 person every half hour", "4 people every half hour"),
        ("ko", "30분마다 1명", "30분마다 4명"),
        ("zh_Hans", "每半小时1人", "每半小时4人"),
    ],
)
def test_the_new_market_review_counts_people_not_minutes(lang, one, four) -> None:
    from bot.conversations.market import new_market_review

    data = {
        "names": {"en": "Fair"}, "day": "2026-12-12", "opens": "09:00:00",
        "closes": "12:00:00", "address": "Hall",
        "units": [{"names": {"en": "Haircuts"}, "capacity": 4, "organiser": ""},
                  {"names": {"en": "Tea"}, "capacity": 1, "organiser": ""}],
    }  # fmt: skip
    review = say(lang, lambda: new_market_review(data))
    assert f"Haircuts · {four}" in review and f"Tea · {one}" in review


@pytest.mark.parametrize(
    ("lang", "typed_day"),
    [
        ("ko", "12월 20일"), ("ko", "12월20일"), ("ko", "2026년 12월 20일"), ("ko", "１２월２０일"),
        ("zh_Hans", "12月20日"), ("zh_Hans", "12月20号"), ("zh_Hans", "2026年12月20日"),
        ("en", "Dec 20"), ("en", "December 20th"), ("en", "20 Dec"), ("en", "dec. 20, 2026"),
        ("en", "20/12"), ("ko", "12/20"),
    ],
)  # fmt: skip
def test_the_wizard_reads_dates_as_people_write_them(lang, typed_day) -> None:
    assert say(lang, lambda: parse_day(typed_day, date(2026, 12, 3))) == date(2026, 12, 20)


def test_the_wizard_reads_hours_as_people_write_them() -> None:
    assert parse_hours("오전 9시부터 12시") == (time(9), time(12))
    assert parse_hours("오전 9시부터 12시까지") == (time(9), time(12))
    assert parse_hours("下午2点到5点") == (time(14), time(17))
    assert parse_hours("9点至11点半") == (time(9), time(11, 30))
    assert parse_hours("from 9 to 12") == (time(9), time(12))
    assert parse_hours("９：００－１１：３０") == (time(9), time(11, 30))
    assert parse_hours("12월 20일") is None


@pytest.mark.parametrize(
    ("lang", "example"), [("ko", "12월 10일"), ("zh_Hans", "12月10日"), ("en", "Dec 10")]
)
def test_the_day_step_shows_what_a_date_looks_like(lang, example) -> None:
    from bot.conversations.market import day_example

    assert say(lang, lambda: day_example(date(2026, 12, 3))) == example
    assert parse_day(example, date(2026, 12, 3)) == date(2026, 12, 10)


@pytest.mark.parametrize(
    ("typed_day", "today", "expected"),
    [
        ("12월 1일", date(2026, 12, 4), None),  # already past: a mistake, not next December
        ("12월 20일", date(2026, 12, 25), None),
        ("1월 3일", date(2026, 12, 25), date(2027, 1, 3)),  # over the year's end
        ("12月20日", date(2026, 1, 3), None),  # eleven months off
        ("2월 29일", date(2027, 12, 1), date(2028, 2, 29)),  # the next 29 February
        ("2월 29일", date(2026, 12, 1), None),
    ],
)
def test_a_day_without_its_year_is_one_of_the_coming_months(typed_day, today, expected) -> None:
    assert say("ko", lambda: parse_day(typed_day, today)) == expected


@pytest.mark.parametrize(
    ("typed_hours", "expected"),
    [
        ("9-5", (time(9), time(17))),
        ("10-2", (time(10), time(14))),
        ("上午11点到1点", (time(11), time(13))),
        ("下午2点到5点", (time(14), time(17))),
        ("2pm-5am", None),  # said in so many words: not turned into 5 in the afternoon
        ("下午2点到上午5点", None),
        ("11:00-9:00", None),  # written to the minute: as typed
        ("22-1", None),
    ],
)
def test_a_closing_hour_alone_is_the_afternoons_when_it_must_be(typed_hours, expected) -> None:
    assert parse_hours(typed_hours) == expected


@pytest.mark.parametrize(
    ("lang", "typed"),
    [
        ("ko", "12월 20일 9-12"),
        ("zh_Hans", "12月20日\u30009点到12点"),
        ("en", "Dec 20 9:00-12:00"),
        ("en", "2026-12-20 9-12"),
    ],
)
def test_moving_the_day_reads_the_day_and_hours_typed_together(lang, typed) -> None:
    found = say(lang, lambda: parse_day_and_hours(typed, date(2026, 12, 3)))
    assert found == (date(2026, 12, 20), (time(9), time(12)))
