"""The dashboard's API: only a coordinator of the branch, with fresh initData signed by the
bot's token, gets data; the figures, lists, search and exports say what was seeded."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from core import needs
from core.db import transaction
from core.models import Branch, Identity, Member
from tests.figures import EXPECTED, HIDDEN_NAME
from tests.web.conftest import COORDINATOR, auth, init_data

NOVEMBER = {"period": "custom", "from": "2026-11-01", "to": "2026-11-30"}
ENDPOINTS = [
    ("/dashboard/api/me", {}),
    ("/dashboard/api/figures", NOVEMBER),
    ("/dashboard/api/board", {"list": "open"}),
    ("/dashboard/api/members", {"q": "0001"}),
    ("/dashboard/api/needs", {}),
    ("/dashboard/api/export", {**NOVEMBER, "kind": "members", "format": "csv"}),
    ("/dashboard/api/screen", {}),
]


async def _mapo_coordinator(sessions) -> dict:
    async with transaction(sessions, write=True) as s:
        mapo = await s.scalar(select(Branch).where(Branch.code == "mapo"))
        member = Member(name="Kim Coordinator", branch_id=mapo.id, is_coordinator=True)
        s.add(member)
        await s.flush()
        s.add(Identity(platform="telegram", external_id="900077", member_id=member.id))
    return {"id": 900077, "first_name": "Kim", "language_code": "ko"}


async def _refused(response, status: int) -> None:
    assert response.status == status
    body = await response.text()
    assert HIDDEN_NAME not in body and "asked" not in body and "0001" not in body


async def test_figures_for_the_coordinator_match_the_seeded_month(client) -> None:
    response = await client.get(
        "/dashboard/api/figures", params=NOVEMBER, headers=auth(init_data())
    )
    assert response.status == 200
    data = await response.json()
    totals = data["totals"]
    assert {key: totals[key] for key in ("asked", "covered", "done", "lapsed", "disputed")} == {
        key: EXPECTED[key] for key in ("asked", "covered", "done", "lapsed", "disputed")
    }
    assert totals["minutes"] == EXPECTED["minutes"]
    assert data["active_volunteers"] == EXPECTED["active_volunteers"]
    assert data["new_members"] == EXPECTED["new_members"]
    assert data["period"] == {"kind": "custom", "first": "2026-11-01", "last": "2026-11-30"}
    assert data["by_week"][0]["week"] == "2026-10-26"
    assert sum(row["asked"] for row in data["by_category"]) == EXPECTED["asked"]
    assert all(row["name"] for row in data["by_category"])


@pytest.mark.parametrize(("path", "params"), ENDPOINTS)
async def test_forged_expired_or_missing_init_data_gets_401_and_no_data(
    client, path, params
) -> None:
    forged = init_data(token="654321:another-bots-token")
    tampered = init_data().replace("Li", "Lu")
    for headers in (
        {},
        auth(forged),
        auth(tampered),
        auth(init_data(age_s=2 * 3600)),  # older than web_init_data_max_age
        auth(init_data(age_s=-3600)),  # from the future
        {"Authorization": init_data()},  # without the scheme
    ):
        await _refused(await client.get(path, params=params, headers=headers), 401)


@pytest.mark.parametrize(("path", "params"), ENDPOINTS)
async def test_another_branch_or_no_coordinator_gets_403_and_no_data(
    client, sessions, seeded, path, params
) -> None:
    mapo = await _mapo_coordinator(sessions)
    luoshan = {**params, "branch": str(seeded["branch"])}
    await _refused(await client.get(path, params=luoshan, headers=auth(init_data(mapo))), 403)
    resident = {"id": 900001, "first_name": "Wang"}
    await _refused(await client.get(path, params=params, headers=auth(init_data(resident))), 403)
    stranger = {"id": 123, "first_name": "Nobody"}
    await _refused(await client.get(path, params=params, headers=auth(init_data(stranger))), 403)


async def test_another_branchs_coordinator_sees_only_their_branch(client, sessions) -> None:
    mapo = await _mapo_coordinator(sessions)
    response = await client.get(
        "/dashboard/api/figures", params=NOVEMBER, headers=auth(init_data(mapo))
    )
    assert response.status == 200
    assert (await response.json())["totals"]["asked"] == 0


async def test_bad_periods_are_400(client) -> None:
    for params in (
        {"period": "fortnight"},
        {"period": "custom", "from": "2026-11-30", "to": "2026-11-01"},
        {"period": "custom", "from": "yesterday", "to": "2026-11-01"},
    ):
        response = await client.get(
            "/dashboard/api/figures", params=params, headers=auth(init_data())
        )
        assert response.status == 400


async def test_csv_export_has_a_bom_and_the_months_requests(client, seeded) -> None:
    response = await client.get(
        "/dashboard/api/export",
        params={**NOVEMBER, "kind": "orders", "format": "csv"},
        headers=auth(init_data()),
    )
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "orders-2026-11-01-2026-11-30.csv" in response.headers["Content-Disposition"]
    body = await response.read()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["No.", "Asked at", "Status"]
    ids = sorted(int(row[0]) for row in rows[1:])
    assert ids == sorted(seeded[f"order_n{n}"] for n in range(1, 6))
    first = next(row for row in rows[1:] if int(row[0]) == seeded["order_n1"])
    # Asked at 16:30 UTC on 31 October: 00:30 on 1 November in Shanghai.
    assert first[1] == "2026-11-01 00:30" and first[2] == "confirmed"
    assert HIDDEN_NAME in body.decode("utf-8-sig")  # the coordinator's own export names people
    assert "+86138" not in body.decode("utf-8-sig")


async def test_csv_in_chinese_and_xlsx_exports(client, sessions, seeded) -> None:
    async with transaction(sessions, write=True) as s:
        (await s.get(Member, seeded["coordinator"])).language = "zh_Hans"
    headers = auth(init_data())
    response = await client.get(
        "/dashboard/api/export",
        params={**NOVEMBER, "kind": "postings", "format": "csv"},
        headers=headers,
    )
    text = (await response.read()).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "记录"
    # Three service postings and a reversal in November, two legs each (the grant was today).
    assert len(rows) - 1 == 4 * 2
    assert {row[2] for row in rows[1:]} == {"service", "reversal"}
    response = await client.get(
        "/dashboard/api/export",
        params={**NOVEMBER, "kind": "members", "format": "xlsx"},
        headers=headers,
    )
    assert response.status == 200
    sheet = load_workbook(io.BytesIO(await response.read())).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][1] == "姓名"
    names = {row[1] for row in values[1:]}
    # Members by the end of November: the two who joined then, not the one from December.
    assert names == {"Chen Xiuying", "Zhao Lei"}


async def test_board_lists(client, seeded) -> None:
    async def ids(which: str) -> list[int]:
        response = await client.get(
            "/dashboard/api/board", params={"list": which}, headers=auth(init_data())
        )
        assert response.status == 200
        rows = await response.json()
        assert all("address" not in row for row in rows)
        return [row["order_id"] for row in rows]

    assert await ids("unconfirmed") == [seeded["order_n2"]]
    assert await ids("open") == []
    response = await client.get(
        "/dashboard/api/board", params={"list": "everything"}, headers=auth(init_data())
    )
    assert response.status == 400


async def test_member_search_by_name_or_phone_end(client, seeded) -> None:
    async def search(q: str) -> list[dict]:
        response = await client.get(
            "/dashboard/api/members", params={"q": q}, headers=auth(init_data())
        )
        assert response.status == 200
        return await response.json()

    found = await search("0001")
    assert [m["name"] for m in found] == [HIDDEN_NAME]
    assert found[0]["phone_end"] == "0001" and "address" not in found[0]
    assert found[0]["balance"] == 600 - 90 - 60 - 45 + 45 - 30
    for typed in ("０００１", "00-01", "00\u30000１"):  # as a phone keyboard or a CJK one types it
        assert [m["name"] for m in await search(typed)] == [HIDDEN_NAME], typed
    assert [m["name"] for m in await search("zhao")] == ["Zhao Lei"]
    assert await search("%") == []
    assert await search("") == []


async def test_the_coordinators_language_and_branch(client) -> None:
    response = await client.get("/dashboard/api/me", headers=auth(init_data(COORDINATOR)))
    data = await response.json()
    assert data["language"] == "en" and data["branch"]["name"]


async def test_the_needs_survey_on_the_dashboard(client, sessions, seeded) -> None:
    async with transaction(sessions, write=True) as s:
        nine = await needs.ensure_need_categories(s, seeded["branch"])
        await needs.raise_need(
            s, member_id=seeded["resident"], category_id=nine[4].id, key="need-1",
            text="A lift in building 3", anonymous=True,
        )  # fmt: skip
    response = await client.get("/dashboard/api/needs", headers=auth(init_data()))
    assert response.status == 200
    data = await response.json()
    assert [c["name"] for c in data["categories"]][4] == "Elderly care"
    assert data["categories"][4]["open"] == data["categories"][4]["last_days"] == 1
    assert [(n["text"], n["raised_by"]) for n in data["needs"]] == [("A lift in building 3", None)]
