"""Several branches through the local Bot API server: a daughter in Shanghai gives hours to
her mother in Qingdao from the passbook and both passbooks show it; she asks to join
Qingdao too and its coordinator adds her; that coordinator, who coordinates Shanghai as
well, switches with /branch and sees Qingdao's /waiting. A member of both asks for help in
Qingdao. In Chinese, Korean and English."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core import catalog, ledger
from core.db import transaction, utcnow
from core.demo import BRANCHES
from core.models import Category, Member, Membership, MembershipRole, Order
from tests.bot.lang import t
from tests.bot.test_request_help import (
    all_orders,
    coordinator_member,
    fill_in,
    link_family,
    member,
    member_id,
)

NAMES = {"zh_Hans": ("王丽", "王秀英"), "ko": ("김지은", "김순자"), "en": ("Jane", "Margaret")}
SHINAN = next(spec["names"] for spec in BRANCHES if spec["code"] == "shinan")


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


async def _passbook(p, lang: str) -> str:
    await p.tap(t(lang, "📒 My passbook"))
    return (await p.wait_reply())["text"]


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_a_gift_across_branches_and_a_coordinator_of_two(person, sessions, lang) -> None:
    daughter_name, mother_name = NAMES[lang]
    coordinator = await coordinator_member(person, sessions, "Li Wei", lang)
    daughter = await member(person, sessions, daughter_name, lang, branch="luoshan")
    mother = await member(person, sessions, mother_name, lang, branch="shinan")
    await link_family(mother, daughter, lang)
    her, mum, coord = [await member_id(sessions, p) for p in (daughter, mother, coordinator)]
    async with transaction(sessions, write=True) as session:
        luoshan = await catalog.branch_by_code(session, "luoshan")
        shinan = await catalog.branch_by_code(session, "shinan")
        account = await ledger.open_member_account(session, her, luoshan.id)
        await ledger.grant(session, account.id, 180, key=f"volunteered-{her}")
        session.add(
            Membership(member_id=coord, branch_id=shinan.id, role=MembershipRole.COORDINATOR)
        )
        category_id = await session.scalar(select(Category.id).limit(1))
        session.add(
            Order(
                branch_id=shinan.id,
                requester_id=mum,
                beneficiary_id=mum,
                category_id=category_id,
                estimated_minutes=60,
                idempotency_key=f"mother-{mum}",
                window_start=utcnow(),
            )
        )

    # The daughter in Shanghai gives her mother in Qingdao an hour from the passbook.
    await _passbook(daughter, lang)
    await daughter.tap_inline(t(lang, "🎁 Give hours to family"))
    await daughter.wait_reply()
    await daughter.tap_inline(f"👤 {mother_name}")
    await daughter.wait_reply()
    await daughter.tap_inline(t(lang, "1 hour"))
    await daughter.wait_reply()
    await daughter.tap_inline(t(lang, "✅ Confirm"))
    await daughter.wait_reply()
    received = await mother.wait_notice()
    assert daughter_name in received["text"]
    assert mother_name in await _passbook(daughter, lang)
    assert daughter_name in await _passbook(mother, lang)
    async with sessions() as session:
        for member_id_, minutes in ((her, 120), (mum, 60)):
            found = await ledger.find_member_account(session, member_id_)
            assert (await ledger.balance_of(session, found.id)).balance == minutes

    # She asks to join Qingdao as well; its coordinator adds her.
    shinan_name = catalog.localized(SHINAN, lang)
    await daughter.command("/joinbranch")
    await daughter.wait_reply()
    await daughter.tap_inline(shinan_name)
    assert shinan_name in (await daughter.wait_reply())["text"]
    asked = await coordinator.wait_notice()
    assert daughter_name in asked["text"]
    await coordinator.tap_inline(t(lang, "✅ Add {name}").format(name=daughter_name))
    await coordinator.wait_reply()
    assert shinan_name in (await daughter.wait_notice())["text"]
    await daughter.command("/branch")
    assert shinan_name in (await daughter.wait_reply())["text"]

    # The coordinator of Shanghai and Qingdao works in Shanghai, then switches to Qingdao.
    await coordinator.command("/waiting")
    before = await coordinator.wait_reply()
    assert not [label for label in coordinator.inline_labels(before) if mother_name in label]
    await coordinator.command("/branch")
    await coordinator.wait_reply()
    await coordinator.tap_inline(shinan_name)
    switched = await coordinator.wait_reply()
    assert (
        t(lang, "✅ You are now working in {name}. /waiting shows its requests.").format(
            name=shinan_name
        )
        in switched["text"]
    )
    await coordinator.command("/waiting")
    after = await coordinator.wait_reply()
    assert [label for label in coordinator.inline_labels(after) if mother_name in label]


ASKERS = {"zh_Hans": "陈静", "ko": "이수진", "en": "Grace"}


@pytest.mark.parametrize("lang", ["zh_Hans", "ko", "en"])
async def test_a_member_of_two_branches_asks_for_help_in_the_second(person, sessions, lang) -> None:
    """She lives in Shanghai and works in Qingdao: she says the help is in Qingdao (the one
    question a member of one branch is never asked), and the request is Qingdao's: its
    coordinator, who works there through a second-branch membership, sees it waiting."""
    coordinator = await coordinator_member(person, sessions, "Li Wei", lang)
    asker = await member(person, sessions, ASKERS[lang], lang, branch="luoshan")
    her, coord = [await member_id(sessions, p) for p in (asker, coordinator)]
    async with transaction(sessions, write=True) as session:
        shinan = await catalog.branch_by_code(session, "shinan")
        session.add(Membership(member_id=her, branch_id=shinan.id))
        session.add(
            Membership(member_id=coord, branch_id=shinan.id, role=MembershipRole.COORDINATOR)
        )
        (await session.get(Member, coord)).working_branch_id = shinan.id
    shinan_name = catalog.localized(SHINAN, lang)

    await asker.tap(t(lang, "🙋 Ask for help"))
    question = await asker.wait_reply()
    assert question["text"] == t(
        lang, "You are in more than one branch. In which one do you need the help?"
    )
    assert shinan_name in asker.keyboard_labels()
    await asker.send("Qingdao?")  # not a button: asked again, kindly
    assert t(lang, "Please choose one of the buttons below.") in (await asker.wait_reply())["text"]
    await asker.tap(shinan_name)
    assert (await asker.wait_reply())["text"] == t(lang, "What do you need help with?")
    await asker.tap(t(lang, "⬅️ Back"))
    assert (await asker.wait_reply())["text"] == question["text"]
    await asker.tap(shinan_name)
    await asker.wait_reply()
    summary = await fill_in(asker, sessions, lang, start=None, where="Shinan Road 5")
    assert t(lang, "🏘 In {branch}").format(branch=shinan_name) in summary["text"]
    await asker.tap_inline(t(lang, "✅ Send"))
    await asker.wait_reply()
    [order] = await all_orders(sessions)
    assert (order.branch_id, order.beneficiary_id) == (shinan.id, her)

    await coordinator.command("/waiting")
    waiting = await coordinator.wait_reply()
    assert [label for label in coordinator.inline_labels(waiting) if ASKERS[lang] in label]
