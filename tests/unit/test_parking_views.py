"""The free times a parking space's card offers: its windows less the bookings, from now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.handlers.parking.views import free_times
from core.rewards.parking import SpaceCard

NOW = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)


def _card(windows, booked) -> SpaceCard:
    return SpaceCard(1, {}, "", "Bo", tuple(windows), tuple(booked), 0, None)


def at(hour: int) -> datetime:
    return NOW.replace(hour=hour)


def test_bookings_are_cut_out_of_the_windows() -> None:
    card = _card([(at(8), at(18))], [(at(10), at(12)), (at(14), at(15))])
    assert free_times(card, NOW) == [(at(8), at(10)), (at(12), at(14)), (at(15), at(18))]


def test_what_has_begun_starts_now_and_slivers_are_left_out() -> None:
    card = _card([(at(5), at(9)), (at(10), at(12))], [(at(10), at(11) + timedelta(minutes=40))])
    assert free_times(card, NOW) == [(NOW, at(9))]


def test_a_fully_booked_window_offers_nothing() -> None:
    assert free_times(_card([(at(8), at(10))], [(at(7), at(11))]), NOW) == []
