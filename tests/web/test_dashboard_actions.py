"""The dashboard acts through the chat's own services: settling a disputed request, the
member's address opened only on request (logged, without the address), verifying a new
volunteer, an adjustment with a reason recorded once per key, the monthly PDF report; only
for a coordinator of the member's branch, with valid initData."""

from __future__ import annotations

import csv
import io
import logging

import pytest
from sqlalchemy import select

from core import helping, needs
from core.db import transaction
from core.ledger.tables import LedgerTransaction
from core.models import Member, Order, OrderStatus, OutboxMessage
from core.notices import Kind
from tests.bot.test_passbook import pdf_text
from tests.figures import HIDDEN_NAME
from tests.unit.test_disputes import _disputed
from tests.web.conftest import auth, init_data
from tests.web.test_dashboard_api import _mapo_coordinator

ADDRESS = "罗山路 88 弄 <b>&</b> 3 号"
WRITES = [
    ("/dashboard/api/board", {"action": "sponsor", "order_id": 1}),
    ("/dashboard/api/members/1/verify", {}),
    ("/dashboard/api/members/1/adjust", {"minutes": 30, "reason": "x", "key": "k" * 10}),
]


async def post(client, path: str, body: dict, user=None):
    headers = auth(init_data(user) if user else init_data())
    return await client.post(path, json=body, headers=headers)


async def test_a_disputed_request_is_settled_from_the_board(client, sessions) -> None:
    ctx = await _disputed(sessions, reported=90)
    response = await post(
        client,
        "/dashboard/api/board",
        {"action": "credit", "order_id": ctx["order"], "minutes": 90},
    )
    assert response.status == 200
    async with sessions() as s:
        assert (await s.get(Order, ctx["order"])).status == OrderStatus.CONFIRMED
        assert await helping.balance(s, ctx["volunteer"]) == 90
        told = await s.scalars(
            select(OutboxMessage.member_id).where(OutboxMessage.kind == Kind.SETTLED)
        )
        assert {ctx["volunteer"], ctx["resident"]} <= set(told)
    again = await post(
        client,
        "/dashboard/api/board",
        {"action": "credit", "order_id": ctx["order"], "minutes": 90},
    )
    assert again.status == 400 and (await again.json())["error"] == "AlreadySettled"


async def test_the_address_only_when_opened_and_the_opening_logged(
    client, seeded, sessions, caplog
) -> None:
    async with transaction(sessions, write=True) as s:
        (await s.get(Member, seeded["resident"])).address = ADDRESS
    path = f"/dashboard/api/members/{seeded['resident']}/address"
    search = await client.get(
        "/dashboard/api/members", params={"q": "王"}, headers=auth(init_data())
    )
    assert "罗山路" not in await search.text()
    with caplog.at_level(logging.INFO, logger="timebank.members"):
        response = await client.get(path, headers=auth(init_data()))
    assert response.status == 200 and (await response.json())["address"] == ADDRESS
    opened = [r for r in caplog.records if r.getMessage() == "address opened"]
    assert [r.fields["member_id"] for r in opened] == [seeded["resident"]]
    assert all(
        "罗山路" not in str(r.fields) and "罗山路" not in r.getMessage() for r in caplog.records
    )
    mapo = await _mapo_coordinator(sessions)
    refused = await client.get(path, headers=auth(init_data(mapo)))
    assert refused.status == 400 and "罗山路" not in await refused.text()


async def test_a_new_volunteer_is_verified(client, seeded, sessions) -> None:
    async with transaction(sessions, write=True) as s:
        newcomer = Member(name="<b>&Tom</b>", branch_id=seeded["branch"], is_volunteer=True)
        s.add(newcomer)
        await s.flush()
        newcomer_id = newcomer.id
    response = await post(client, f"/dashboard/api/members/{newcomer_id}/verify", {})
    assert response.status == 200 and (await response.json())["verified"] is True
    async with sessions() as s:
        assert (await s.get(Member, newcomer_id)).verified
        kinds = await s.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.member_id == newcomer_id)
        )
        assert Kind.VERIFIED in set(kinds)


async def test_an_adjustment_needs_a_reason_and_is_recorded_once(client, seeded, sessions) -> None:
    path = f"/dashboard/api/members/{seeded['neighbour']}/adjust"
    body = {"minutes": 45, "reason": "Paper card from October", "key": "form-1234567"}

    async def adjustments() -> list[LedgerTransaction]:
        async with sessions() as s:
            return list(
                await s.scalars(
                    select(LedgerTransaction).where(LedgerTransaction.kind == "adjustment")
                )
            )

    assert (await post(client, path, {**body, "reason": " "})).status == 400
    assert (await post(client, path, {**body, "minutes": 1.5})).status == 400
    assert await adjustments() == []
    first = await post(client, path, body)
    second = await post(client, path, body)
    assert first.status == second.status == 200
    assert (await first.json())["replayed"] is False and (await second.json())["replayed"] is True
    [posting] = await adjustments()
    assert posting.memo == "Paper card from October"
    async with sessions() as s:
        assert await helping.balance(s, seeded["neighbour"]) == 45


@pytest.mark.parametrize(("path", "body"), WRITES)
async def test_writes_need_valid_init_data_of_a_coordinator(client, sessions, path, body) -> None:
    forged = init_data(token="654321:another-bots-token")
    assert (await client.post(path, json=body, headers=auth(forged))).status == 401
    assert (await client.post(path, json=body)).status == 401
    resident = {"id": 900001, "first_name": "Wang"}
    assert (await post(client, path, body, resident)).status == 403
    async with sessions() as s:
        assert (
            list(
                await s.scalars(
                    select(LedgerTransaction).where(LedgerTransaction.kind == "adjustment")
                )
            )
            == []
        )


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_the_monthly_report_is_a_pdf_in_the_coordinators_language(
    client, seeded, sessions, lang
) -> None:
    async with transaction(sessions, write=True) as s:
        (await s.get(Member, seeded["coordinator"])).language = lang
    response = await client.get(
        "/dashboard/api/report", params={"month": "2026-11"}, headers=auth(init_data())
    )
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert "report-luoshan-2026-11.pdf" in response.headers["Content-Disposition"]
    text = pdf_text(await response.read())
    title = {"zh_Hans": "月报", "ko": "월간 보고서", "en": "Monthly report"}[lang]
    assert title in text
    bad = await client.get(
        "/dashboard/api/report", params={"month": "2026-13"}, headers=auth(init_data())
    )
    assert bad.status == 400


async def test_the_needs_export_names_no_one_who_asked_not_to_be(client, seeded, sessions) -> None:
    async with transaction(sessions, write=True) as s:
        nine = await needs.ensure_need_categories(s, seeded["branch"])
        for number, anonymous in enumerate((True, False)):
            await needs.raise_need(
                s, member_id=seeded["resident"], category_id=nine[3].id, key=f"need-{number}",
                text=f"=HYPERLINK(need {number})", anonymous=anonymous,
            )  # fmt: skip
    today = {"period": "week"}
    response = await client.get(
        "/dashboard/api/export", params={**today, "kind": "needs", "format": "csv"},
        headers=auth(init_data()),
    )  # fmt: skip
    assert response.status == 200
    rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert rows[0][:3] == ["No.", "Asked at", "Kind of need"]
    assert [(row[4], row[6]) for row in rows[1:]] == [
        ("'=HYPERLINK(need 0)", ""),
        ("'=HYPERLINK(need 1)", HIDDEN_NAME),
    ]
