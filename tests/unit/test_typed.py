"""Numbers, codes and times typed on a Chinese or Korean keyboard read as on any other."""

from __future__ import annotations

from datetime import time

import pytest

from core import family, gifts, members, schedule, typed
from core.rewards import merchants


def test_full_width_digits_fold_to_plain_ones() -> None:
    assert typed.digits("２４５６１１") == "245611"
    assert typed.digits("２４５　６１１") == "245611"
    assert typed.digits("245-611") == "245611"
    assert typed.plain("１４：３０") == "14:30"


@pytest.mark.parametrize("text", ["２４５６１１", "245 611", "２４５－６１１", " 245611 "])
def test_a_family_code_reads_the_same_from_every_keyboard(text: str) -> None:
    assert family.clean_code(text) == "245611"
    assert merchants.clean_code(text) == "245611"


def test_a_phone_number_in_full_width_digits() -> None:
    assert members.normalise_phone("＋８６ １３８ ００１３ ８０００") == "+8613800138000"


def test_times_and_amounts_in_full_width() -> None:
    assert schedule.parse_time("１４：３０") == time(14, 30)
    assert schedule.parse_time("下午３点") == time(15, 0)
    assert gifts.parse_minutes("４５") == 45
    assert gifts.parse_minutes("１：３０") == 90
