"""A shop's redemptions today and this month, its monthly statement, and settlement."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import UTC, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import pytest

from core import ledger
from core.coordinators import CoordinatorOnly
from core.db import transaction, utcnow
from core.rewards import merchants, redemption, shop_reports
from tests.bot.lang import t
from tests.rewards.conftest import shop_balance

NOW = datetime(2025, 6, 3, 4, 0, tzinfo=UTC)  # noon in Shanghai


async def _sell(sessions, town, member: int, item: int, key: str, now: datetime) -> None:
    async with transaction(sessions, write=True) as session:
        issued = await redemption.redeem(session, member, item, key=key, now=now)
    async with transaction(sessions, write=True) as session:
        await redemption.confirm_redemption(session, town.staff, issued.code, now=now)


def _pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    )
    return done.stdout.decode("utf-8")


async def test_sales_today_and_this_month_show_first_names_only(sessions, town) -> None:
    await _sell(sessions, town, town.residents[0], town.oil, "a", NOW - timedelta(days=1))
    await _sell(sessions, town, town.residents[1], town.coupon, "b", NOW)
    async with sessions() as session:
        today = await shop_reports.sales(session, town.staff, "today", now=NOW)
        month = await shop_reports.sales(session, town.staff, "month", now=NOW)
        assert [line.member_first_name for line in today.lines] == ["영희"]
        assert (today.minutes, month.minutes) == (30, 90)
        shown = repr(month)
        assert "+86" not in shown and "secret street" not in shown
        by_coordinator = await shop_reports.sales(
            session, town.coordinator, "month", merchant_id=town.shop, now=NOW
        )
        assert by_coordinator.minutes == 90
        with pytest.raises(CoordinatorOnly):
            await shop_reports.sales(session, town.other_staff, merchant_id=town.shop, now=NOW)
        with pytest.raises(merchants.StaffOnly):
            await shop_reports.sales(session, town.residents[0], now=NOW)


async def test_a_month_statement_with_a_settlement(sessions, town) -> None:
    # Postings carry the ledger's own clock, so this month is the real one.
    now = utcnow()
    local = now.astimezone(ZoneInfo("Asia/Shanghai"))
    year, month = local.year, local.month
    before = (year, month - 1) if month > 1 else (year - 1, 12)
    await _sell(sessions, town, town.residents[0], town.oil, "a", now)
    await _sell(sessions, town, town.residents[1], town.coupon, "b", now)
    async with transaction(sessions, write=True) as session:
        with pytest.raises(CoordinatorOnly):
            await shop_reports.settle_shop(
                session, town.staff, town.shop, 60, reason="paid", key="s0"
            )
        with pytest.raises(ledger.InsufficientCredit):
            await shop_reports.settle_shop(
                session, town.coordinator, town.shop, 91, reason="too much", key="s1"
            )
    async with transaction(sessions, write=True) as session:
        await shop_reports.settle_shop(
            session, town.coordinator, town.shop, 60, reason="街道办 paid in November", key="s2"
        )
        again = await shop_reports.settle_shop(
            session, town.coordinator, town.shop, 60, reason="街道办 paid in November", key="s2"
        )
        assert again.replayed
    assert await shop_balance(sessions, town.shop, town.branch) == 30
    async with sessions() as session:
        statement = await shop_reports.shop_statement(session, town.staff, year, month)
        empty = await shop_reports.shop_statement(session, town.staff, *before)
        with pytest.raises(shop_reports.MonthInvalid):
            await shop_reports.shop_statement(session, town.staff, year, 13)
    assert [line.kind for line in statement.lines] == ["redemption", "redemption", "settlement"]
    assert (statement.received, statement.settled) == (90, 60)
    assert (statement.opening_balance, statement.closing_balance) == (0, 30)
    assert empty.lines == () and empty.closing_balance == 0

    rows = list(
        csv.reader(io.StringIO(shop_reports.render_shop_csv(statement, "en", partial(t, "en"))
                               .decode("utf-8-sig")))
    )  # fmt: skip
    assert rows[1][1] == "Redeemed · A bottle of oil · 秀英" and rows[3][2] == "-60"

    zh = _pdf_text(
        shop_reports.render_shop_pdf(statement, "zh_Hans", partial(t, "zh_Hans"), generated_at=NOW)
    )
    assert "老王粮油店" in zh and "食用油一瓶" in zh and "秀英" in zh and "영희" in zh
    ko = _pdf_text(
        shop_reports.render_shop_pdf(statement, "ko", partial(t, "ko"), generated_at=NOW)
    )
    assert "식용유 한 병" in ko and str(year) in ko
