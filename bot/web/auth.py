"""Who is asking: Telegram's Mini App `initData`, checked with the bot token, then the role.

The page sends the `initData` Telegram gave it in `Authorization: tma <initData>`. It is
validated by aiogram (`safe_parse_webapp_init_data`, the HMAC Telegram documents); one
older than `web_init_data_max_age` is refused as expired. Then the server decides, not the
page: only a coordinator of the branch asked about gets its data.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiogram.utils.web_app import WebAppInitData, safe_parse_webapp_init_data
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from core import coordinators
from core.config import Settings
from core.languages import LANGUAGES, match_language
from core.logs import log_event
from core.members import find_member
from core.models import Branch, Member

log = logging.getLogger("timebank.web")
SCHEME = "tma "
# A clock a little ahead of Telegram's is not an attack.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Viewer:
    member_id: int
    branch_id: int
    language: str
    time_zone: str


def _refuse(status: type[web.HTTPException], reason: str, **fields: object) -> web.HTTPException:
    log_event(log, "dashboard refused", reason=reason, **fields)
    return status(text=json.dumps({"error": reason}), content_type="application/json")


def init_data_of(request: web.Request, settings: Settings, now: datetime) -> WebAppInitData:
    """The request's initData, valid and recent, or 401."""
    header = request.headers.get("Authorization", "")
    if not header.startswith(SCHEME):
        raise _refuse(web.HTTPUnauthorized, "no_init_data")
    try:
        data = safe_parse_webapp_init_data(settings.token, header[len(SCHEME) :])
    except ValueError:
        raise _refuse(web.HTTPUnauthorized, "bad_signature") from None
    auth_date = data.auth_date.astimezone(UTC)
    age = now - auth_date
    if age > timedelta(seconds=settings.web_init_data_max_age) or age < -CLOCK_SKEW:
        raise _refuse(web.HTTPUnauthorized, "expired", age_s=int(age.total_seconds()))
    if data.user is None:
        raise _refuse(web.HTTPUnauthorized, "no_user")
    return data


async def coordinator_of(
    session: AsyncSession, data: WebAppInitData, branch_id: int | None
) -> Viewer:
    """The member behind the initData, if they coordinate `branch_id` (the branch they work
    in when None): the same rule as the chat's, `core.coordinators.coordinates`."""
    assert data.user is not None
    member: Member | None = await find_member(session, "telegram", str(data.user.id))
    if member is None or member.erased_at is not None:
        raise _refuse(web.HTTPForbidden, "not_a_coordinator")
    coordinated = await coordinators.coordinated_branches(session, member)
    if not coordinated:
        raise _refuse(web.HTTPForbidden, "not_a_coordinator")
    if branch_id is None:
        branch_id = (await coordinators.working_branch(session, member.id))[1]
    elif branch_id not in coordinated:
        raise _refuse(web.HTTPForbidden, "another_branch", member_id=member.id, branch_id=branch_id)
    branch = await session.get(Branch, branch_id)
    assert branch is not None
    language = (
        member.language
        if member.language in LANGUAGES
        else match_language(data.user.language_code) or branch.default_language
    )
    return Viewer(member.id, branch.id, language, branch.time_zone)
