"""Family links for asking on someone's behalf: invite codes, confirming, unlinking."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core import family
from core.db import transaction, utcnow
from core.errors import NotFound
from core.models import FamilyLinkStatus, Member


@pytest.fixture
async def people(sessions) -> dict[str, int]:
    async with transaction(sessions, write=True) as session:
        rows = {name: Member(name=name, language="ko") for name in ("father", "son", "other")}
        session.add_all(rows.values())
        await session.flush()
        return {name: member.id for name, member in rows.items()}


async def _invite(sessions, member_id: int, **kw):
    async with transaction(sessions, write=True) as session:
        return await family.create_invite(session, member_id, **kw)


async def _use(sessions, relative_id: int, code: str):
    async with transaction(sessions, write=True) as session:
        return await family.use_invite(session, relative_id, code)


async def _answer(sessions, member_id: int, link_id: int, accept: bool = True):
    async with transaction(sessions, write=True) as session:
        return await family.answer_link(session, member_id, link_id, accept=accept)


async def _links(sessions, member_id: int):
    async with sessions() as session:
        return await family.links_of(session, member_id)


async def test_invite_enter_confirm(sessions, people) -> None:
    invite = await _invite(sessions, people["father"])
    assert len(invite.code) == family.CODE_DIGITS and invite.code.isdigit()
    request = await _use(sessions, people["son"], f" {invite.code[:3]}-{invite.code[3:]} ")
    assert request.link.status == FamilyLinkStatus.PENDING
    assert (request.member.id, request.relative.id) == (people["father"], people["son"])
    answered = await _answer(sessions, people["father"], request.link.id)
    assert answered.link.status == FamilyLinkStatus.ACTIVE and not answered.replayed
    assert (await _answer(sessions, people["father"], request.link.id)).replayed
    [seen_by_son] = await _links(sessions, people["son"])
    assert seen_by_son.i_am_relative and seen_by_son.other.id == people["father"]
    [seen_by_father] = await _links(sessions, people["father"])
    assert not seen_by_father.i_am_relative and seen_by_father.other.id == people["son"]
    async with sessions() as session:
        assert [m.id for m in await family.beneficiaries(session, people["son"])] == [
            people["father"]
        ]


async def test_an_unused_code_is_given_again(sessions, people) -> None:
    first = await _invite(sessions, people["father"])
    again = await _invite(sessions, people["father"])
    assert again.code == first.code


async def test_a_code_works_once(sessions, people) -> None:
    invite = await _invite(sessions, people["father"])
    first = await _use(sessions, people["son"], invite.code)
    assert (await _use(sessions, people["son"], invite.code)).replayed  # a retry
    with pytest.raises(family.InviteNotValid):
        await _use(sessions, people["other"], invite.code)
    assert not first.replayed


async def test_wrong_expired_and_own_codes(sessions, people) -> None:
    with pytest.raises(family.InviteNotValid):
        await _use(sessions, people["son"], "000000")
    old = await _invite(sessions, people["father"], now=utcnow() - timedelta(days=2))
    with pytest.raises(family.InviteNotValid):
        await _use(sessions, people["son"], old.code)
    own = await _invite(sessions, people["son"])
    with pytest.raises(family.OwnInvite):
        await _use(sessions, people["son"], own.code)


async def test_declining_ends_the_link(sessions, people) -> None:
    request = await _use(sessions, people["son"], (await _invite(sessions, people["father"])).code)
    declined = await _answer(sessions, people["father"], request.link.id, accept=False)
    assert declined.link.status == FamilyLinkStatus.ENDED
    assert await _links(sessions, people["son"]) == []


async def test_only_the_invited_member_confirms(sessions, people) -> None:
    request = await _use(sessions, people["son"], (await _invite(sessions, people["father"])).code)
    for who in ("son", "other"):
        with pytest.raises(NotFound):
            await _answer(sessions, people[who], request.link.id)


async def test_either_side_may_unlink_and_link_again(sessions, people) -> None:
    for side in ("father", "son"):
        code = (await _invite(sessions, people["father"])).code
        request = await _use(sessions, people["son"], code)
        await _answer(sessions, people["father"], request.link.id)
        async with transaction(sessions, write=True) as session:
            ended = await family.unlink(session, people[side], request.link.id)
            assert ended.link.status == FamilyLinkStatus.ENDED and not ended.replayed
            assert (await family.unlink(session, people[side], request.link.id)).replayed
            with pytest.raises(NotFound):
                await family.unlink(session, people["other"], request.link.id)
        assert await _links(sessions, people["father"]) == []


async def test_already_linked(sessions, people) -> None:
    request = await _use(sessions, people["son"], (await _invite(sessions, people["father"])).code)
    await _answer(sessions, people["father"], request.link.id)
    code = (await _invite(sessions, people["father"])).code
    with pytest.raises(family.AlreadyLinked):
        await _use(sessions, people["son"], code)


async def test_a_code_typed_in_full_width_digits_is_the_same_code(sessions, people) -> None:
    """The Chinese keyboard types ２４５６１１ by default; it is not an expired code."""
    invite = await _invite(sessions, people["father"])
    wide = "".join(chr(ord(ch) - ord("0") + ord("０")) for ch in invite.code)
    request = await _use(sessions, people["son"], f"{wide[:3]}　{wide[3:]}")
    assert request.link.status == FamilyLinkStatus.PENDING
    assert request.member.id == people["father"]
