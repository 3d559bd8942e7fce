"""Year-end recognition: hours given, a leaderboard with opt-out, certificates in print."""

from __future__ import annotations

import subprocess
from datetime import date
from functools import partial

import pytest
from sqlalchemy import select

from core import ledger
from core.coordinators import CoordinatorOnly
from core.db import transaction, utcnow
from core.ledger import PostingKind
from core.models import Member, OutboxMessage
from core.rewards import recognition
from tests.bot.lang import t
from tests.rewards.conftest import add_member, give


def _pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    )
    return " ".join(done.stdout.decode("utf-8").split())


def _fonts_embedded(data: bytes, tmp_path) -> bool:
    """pdffonts' table: one row per font, its "emb" column fourth from the right."""
    path = tmp_path / "certificate.pdf"
    path.write_bytes(data)
    done = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True)
    rows = [line.split() for line in done.stdout.splitlines()[2:]]
    return bool(rows) and all(row[-4] == "yes" for row in rows)


@pytest.fixture
async def helpers(sessions, town) -> dict:
    async with transaction(sessions, write=True) as session:
        names = {"wang": ("王秀英", "zh_Hans"), "kim": ("김영희", "ko"), "amy": ("Amy Lee", "en")}
        ids = {}
        for key, (name, language) in names.items():
            member = await add_member(session, town.branch, name, is_volunteer=True)
            ids[key] = member
            (await session.get(Member, member)).language = language
        await give(session, town.residents[0], town.branch, 300)
        payer = await ledger.find_member_account(session, town.residents[0])
        paid = {}
        for key, minutes in (("wang", 90), ("kim", 30), ("amy", 60), ("wang", 45)):
            account = await ledger.open_member_account(session, ids[key], town.branch)
            posting = await ledger.transfer(
                session, payer.id, account.id, minutes, kind=PostingKind.SERVICE,
                key=f"help:{key}:{minutes}",
            )  # fmt: skip
            paid[(key, minutes)] = posting.id
        await ledger.reverse(
            session, paid[("amy", 60)], reason="did not happen",
            actor=ledger.Actor(town.coordinator, is_coordinator=True), key="undo",
        )  # fmt: skip
    return ids


def _this_year() -> tuple[date, date]:
    year = utcnow().year
    return date(year, 1, 1), date(year + 1, 1, 1)


async def test_the_leaderboard_counts_help_and_respects_opt_out(sessions, town, helpers) -> None:
    start, end = _this_year()
    async with sessions() as session:
        leaders = await recognition.leaderboard(session, town.coordinator, town.branch, start, end)
        assert [(x.name, x.minutes) for x in leaders] == [("王秀英", 135), ("김영희", 30)]
        with pytest.raises(CoordinatorOnly):
            await recognition.leaderboard(session, town.other_coordinator, town.branch, start, end)
        with pytest.raises(recognition.PeriodInvalid):
            await recognition.leaderboard(session, town.coordinator, town.branch, end, start)
        earlier = await recognition.leaderboard(
            session, town.coordinator, town.branch, date(2000, 1, 1), date(2001, 1, 1)
        )
        assert earlier == []
    async with transaction(sessions, write=True) as session:
        await recognition.stay_off_leaderboard(session, helpers["wang"])
    async with sessions() as session:
        leaders = await recognition.leaderboard(session, town.coordinator, town.branch, start, end)
        assert [x.name for x in leaders] == ["김영희"]
        # Her own certificate is hers to ask for all the same.
        own = await recognition.certificate_for(session, helpers["wang"], start, end)
        assert own.minutes == 135


async def test_honour_sends_each_a_certificate_once(sessions, town, helpers) -> None:
    start, end = _this_year()
    chosen = [helpers["wang"], helpers["kim"]]
    async with transaction(sessions, write=True) as session:
        first = await recognition.honour(
            session, town.coordinator, chosen, start, end, title="罗山社区 主任"
        )
        again = await recognition.honour(session, town.coordinator, chosen, start, end, title="x")
        with pytest.raises(CoordinatorOnly):
            await recognition.honour(session, town.staff, chosen, start, end, title="x")
    assert first == chosen and again == []
    async with sessions() as session:
        sent = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert [(m.member_id, m.kind, m.payload["minutes"]) for m in sent] == [
        (helpers["wang"], "certificate", 135),
        (helpers["kim"], "certificate", 30),
    ]
    assert sent[0].payload["signed_by"] == "Li Wei 罗山社区 主任"


async def test_certificates_print_in_chinese_and_korean(sessions, town, helpers, tmp_path) -> None:
    start, end = _this_year()
    async with sessions() as session:
        wang = await recognition.certificate_for(
            session, helpers["wang"], start, end, signed_by="李伟 社区主任"
        )
        kim = await recognition.certificate_for(session, helpers["kim"], start, end)
        amy = await recognition.certificate_for(
            session, helpers["amy"], date(2026, 3, 1), date(2026, 7, 1)
        )
    printed = {
        language: recognition.render_certificate_pdf(certificate, partial(t, language))
        for language, certificate in (("zh_Hans", wang), ("ko", kim), ("en", amy))
    }
    assert all(_fonts_embedded(data, tmp_path) for data in printed.values())
    chinese = _pdf_text(printed["zh_Hans"])
    assert "王秀英" in chinese and "2小时15分钟" in chinese and "李伟 社区主任" in chinese
    assert "luoshan" in chinese  # the test branch's only name
    korean = _pdf_text(printed["ko"])
    assert "김영희" in korean and "30분" in korean
    english = _pdf_text(printed["en"])
    assert "Amy Lee" in english and "0 min" in english and "June 30, 2026" in english
