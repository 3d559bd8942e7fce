# ruff: noqa: E501  (one row, one line)
"""Who may do what: one row per command, button (callback data, per action where a handler
filters on it) and web endpoint, with the actors allowed to use it. Everyone else is denied:
they get a kind answer and nothing changes. `tests/bot/test_authorization.py` tries every
row as every actor and fails on a missing row, so a new feature adds its rows here.

A row is one line: `row(KEY, TRY, ALLOWED)`.
- KEY names what is tried: `/command`, a callback prefix (`ostep`) or prefix and action
  (`fam:menu`), or `METHOD /path` of a web route. The test says which keys are missing.
  Words in brackets after it try the same thing in another situation (`ostep:relay (ended)`).
- TRY makes what the actor sends, from the world of `test_authorization.World`: a
  command's text, a callback's packed data (`lambda w: X(action=..., id=w.order).pack()`),
  or a web request `Web(method, path, params, body)` (body: a POST's JSON).
- ALLOWED is a set of actors (the constants below, combined with `|`); NOBODY for buttons
  that only work inside a conversation, whose forged tap is refused by everyone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.handlers.account.callbacks import EraseChoice
from bot.handlers.asking.callbacks import AskStep, OrderCancel, OrderOpen, PickDay, RememberHome
from bot.handlers.branches.callbacks import Act as BranchAct
from bot.handlers.branches.callbacks import BranchStep, JoinAnswer, NbrAct, Neighbours
from bot.handlers.broadcasts.callbacks import (
    Announcements,
    ComeToEvent,
    CoordinatorTool,
    SteerBroadcast,
)
from bot.handlers.classes.callbacks import ClassCb
from bot.handlers.coordination.callbacks import CoordStep, Settle, VerifyStep
from bot.handlers.digest.callbacks import DigestAction
from bot.handlers.family.callbacks import Act, FamilyAction, FamilyAnswer
from bot.handlers.helping.callbacks import NudgeAnswer, OrderStep
from bot.handlers.market.callbacks import Market
from bot.handlers.nearby.callbacks import Near
from bot.handlers.needs.callbacks import NeedAction
from bot.handlers.offers.callbacks import OfferCb
from bot.handlers.parking.callbacks import ParkCb
from bot.handlers.passbook.callbacks import GiftStep, PassbookExport, PassbookNav
from bot.handlers.rewards.callbacks import Counter, Honour, Mine, ShopAdmin, Spend
from bot.handlers.stats.callbacks import StatsAction
from bot.handlers.teams.callbacks import TeamAction
from bot.handlers.volunteer_profile.callbacks import ProfileStep

ACTORS = (
    "stranger",  # never signed up
    "resident",  # asked for the open and the accepted orders
    "relative",  # linked with the resident
    "volunteer",  # accepted the resident's order
    "other_volunteer",  # nudged, did not accept
    "coordinator",  # of the resident's branch, their home
    "other_coordinator",  # of another branch, and of a second one: the resident's is a third
    "second_coordinator",  # at home elsewhere, coordinating the resident's branch too
    "merchant",  # staff of a partner shop
    "deleted",  # erased their details with /deleteme
    "blocked",  # a resident who blocked the bot (and now writes again)
)

STRANGER, RESIDENT, RELATIVE, VOLUNTEER, OTHER_VOLUNTEER = (frozenset({a}) for a in ACTORS[:5])
HOME_COORDINATOR, OTHER_COORDINATOR, SECOND_COORDINATOR, MERCHANT, DELETED, BLOCKED = (
    frozenset({a}) for a in ACTORS[5:]
)
# A coordinator of the resident's branch has the same rights whether it is their home or a
# second branch (`core.coordinators.coordinates`): every row allowing one allows both.
COORDINATOR = HOME_COORDINATOR | SECOND_COORDINATOR
# A member's own things (a market place, a shop's reward, a class seat, a parking space, a
# volunteer's offer) are of their home branch: a membership elsewhere gives a coordinator
# the coordinator's rights there, not these.
NOBODY: frozenset[str] = frozenset()
EVERYONE = frozenset(ACTORS)
NOT_SIGNED_UP = STRANGER | DELETED
MEMBERS = EVERYONE - NOT_SIGNED_UP
VOLUNTEERS = VOLUNTEER | OTHER_VOLUNTEER
COORDINATORS = COORDINATOR | OTHER_COORDINATOR
# Residents who may ask for help (a volunteer or coordinator may ask too: anyone signed up).
ASKERS = MEMBERS


@dataclass(frozen=True)
class Web:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None  # a POST's JSON


@dataclass(frozen=True)
class Row:
    key: str
    make: Callable[[Any], str | Web]
    allowed: frozenset[str]


def row(key: str, make: Callable[[Any], str | Web], allowed: frozenset[str]) -> Row:
    return Row(key, make, allowed)


def _cmd(text: str) -> Callable[[Any], str]:
    return lambda w: text


# fmt: off
ROWS: list[Row] = [
    # Commands
    row("/start", _cmd("/start"), EVERYONE),
    row("/help", _cmd("/help"), EVERYONE),
    row("/cancel", _cmd("/cancel"), EVERYONE),
    row("/language", _cmd("/language"), EVERYONE),
    row("/ask", _cmd("/ask"), ASKERS),
    row("/askfor", _cmd("/askfor"), ASKERS),
    row("/myorders", _cmd("/myorders"), MEMBERS),
    row("/passbook", _cmd("/passbook"), MEMBERS),
    row("/family", _cmd("/family"), MEMBERS),
    row("/mydata", _cmd("/mydata"), MEMBERS),
    row("/deleteme", _cmd("/deleteme"), MEMBERS),
    row("/waiting", _cmd("/waiting"), COORDINATORS),
    # Commands of features after the first matrix: each coordinator acts on their own branch.
    row("/broadcast", _cmd("/broadcast"), COORDINATORS),
    row("/broadcasts", _cmd("/broadcasts"), COORDINATORS),
    row("/certificate", _cmd("/certificate"), MEMBERS),
    row("/digest", _cmd("/digest"), MEMBERS),
    row("/leaderboard", _cmd("/leaderboard"), COORDINATORS),
    row("/market", _cmd("/market"), MEMBERS),
    row("/need", _cmd("/need"), MEMBERS),
    row("/needs", _cmd("/needs"), COORDINATORS),
    row("/newmarket", _cmd("/newmarket"), COORDINATORS),
    row("/report", _cmd("/report"), COORDINATORS),
    row("/shop", _cmd("/shop"), MERCHANT),
    row("/shops", _cmd("/shops"), COORDINATORS),
    row("/spend", _cmd("/spend"), MEMBERS),
    row("/stats", _cmd("/stats"), COORDINATORS),
    row("/team", _cmd("/team"), MEMBERS),
    # Account
    row("erase", lambda w: EraseChoice(confirm=True).pack(), MEMBERS),
    # Asking and my requests
    row("ask", lambda w: AskStep(action="send", draft="forged").pack(), NOBODY),
    row("day", lambda w: PickDay(draft="forged", day="20270101").pack(), NOBODY),
    row("home", lambda w: RememberHome(order_id=w.accepted, keep=True).pack(), RESIDENT),
    row("ord", lambda w: OrderOpen(order_id=w.accepted).pack(), RESIDENT | VOLUNTEER | COORDINATOR),
    row("ordx", lambda w: OrderCancel(order_id=w.open, reason="not_needed").pack(), RESIDENT | COORDINATOR),
    # Family
    row("fam:menu", lambda w: FamilyAction(action=Act.MENU).pack(), MEMBERS),
    row("fam:code", lambda w: FamilyAction(action=Act.CODE).pack(), MEMBERS),
    row("fam:enter", lambda w: FamilyAction(action=Act.ENTER).pack(), MEMBERS),
    row("fam:unlink", lambda w: FamilyAction(action=Act.UNLINK, link_id=w.link).pack(), RESIDENT | RELATIVE),
    row("fam:unlink_yes", lambda w: FamilyAction(action=Act.UNLINK_YES, link_id=w.link).pack(), RESIDENT | RELATIVE),
    row("famok", lambda w: FamilyAnswer(link_id=w.pending_link, accept=True).pack(), RESIDENT),
    # Passbook and gifts
    row("pb", lambda w: PassbookNav(page=0).pack(), MEMBERS),
    row("pbx", lambda w: PassbookExport(fmt="csv").pack(), MEMBERS),
    row("gift:start", lambda w: GiftStep(action="start").pack(), MEMBERS),
    row("gift:to", lambda w: GiftStep(action="to", to=w.resident).pack(), RELATIVE),
    row("gift:amount", lambda w: GiftStep(action="amount", to=w.resident, minutes=30).pack(), RELATIVE),
    row("gift:typed", lambda w: GiftStep(action="typed", to=w.resident).pack(), RELATIVE),
    row("gift:ok", lambda w: GiftStep(action="ok", to=w.resident, minutes=30).pack(), RELATIVE),
    row("gift:no", lambda w: GiftStep(action="no").pack(), EVERYONE),  # "nothing was given"
    # The volunteer's side
    row("ndg", lambda w: NudgeAnswer(nudge_id=w.nudge, accept=True).pack(), OTHER_VOLUNTEER),
    row("ostep", lambda w: OrderStep(action="done", order_id=w.accepted).pack(), VOLUNTEER),
    row("ostep:minutes", lambda w: OrderStep(action="minutes", order_id=w.accepted, value=60).pack(), VOLUNTEER),
    row("ostep:back_yes", lambda w: OrderStep(action="back_yes", order_id=w.accepted).pack(), VOLUNTEER),
    row("ostep:wrong", lambda w: OrderStep(action="wrong", order_id=w.accepted).pack(), RESIDENT | VOLUNTEER),
    row("ostep:wrong_yes", lambda w: OrderStep(action="wrong_yes", order_id=w.accepted).pack(), RESIDENT | VOLUNTEER),
    row("ostep:rate", lambda w: OrderStep(action="rate", order_id=w.accepted).pack(), RESIDENT | VOLUNTEER),
    row("ostep:relay", lambda w: OrderStep(action="relay", order_id=w.accepted).pack(), RESIDENT | VOLUNTEER),
    row("ostep:relay (ended)", lambda w: OrderStep(action="relay", order_id=w.ended).pack(), NOBODY),
    # Coordinators
    row("stl", lambda w: Settle(action="view", order_id=w.disputed).pack(), COORDINATOR),
    row("stl:credit", lambda w: Settle(action="credit", order_id=w.disputed, value=60).pack(), COORDINATOR),
    row("stl:none_yes", lambda w: Settle(action="none_yes", order_id=w.disputed).pack(), COORDINATOR),
    row("vfy", lambda w: VerifyStep(volunteer_id=w.other_volunteer).pack(), COORDINATOR),
    row("crd:list", lambda w: CoordStep(action="list").pack(), COORDINATORS),
    row("crd:view", lambda w: CoordStep(action="view", order_id=w.open).pack(), COORDINATOR),
    row("crd:ask", lambda w: CoordStep(action="ask", order_id=w.open, value=w.volunteer).pack(), COORDINATOR),
    row("crd:round", lambda w: CoordStep(action="round", order_id=w.open, value=1).pack(), COORDINATOR),
    row("crd:sponsor", lambda w: CoordStep(action="sponsor", order_id=w.open).pack(), COORDINATOR),
    # A volunteer's profile
    row("vol:view", lambda w: ProfileStep(action="view").pack(), VOLUNTEERS),
    row("vol:pause", lambda w: ProfileStep(action="pause").pack(), VOLUNTEERS),
    row("vol:resume", lambda w: ProfileStep(action="resume").pack(), VOLUNTEERS),
    row("vol:skills", lambda w: ProfileStep(action="skills").pack(), VOLUNTEERS),
    row("vol:skill", lambda w: ProfileStep(action="skill", value=w.category).pack(), VOLUNTEERS),
    row("vol:times", lambda w: ProfileStep(action="times").pack(), VOLUNTEERS),
    row("vol:slot", lambda w: ProfileStep(action="slot", value=0, text="morning").pack(), VOLUNTEERS),
    row("vol:day", lambda w: ProfileStep(action="day", value=6).pack(), VOLUNTEERS),
    row("vol:part", lambda w: ProfileStep(action="part", text="evening").pack(), VOLUNTEERS),
    row("vol:week", lambda w: ProfileStep(action="week").pack(), VOLUNTEERS),
    row("vol:distance", lambda w: ProfileStep(action="distance").pack(), VOLUNTEERS),
    row("vol:dist", lambda w: ProfileStep(action="dist", value=5000).pack(), VOLUNTEERS),
    row("vol:quiet", lambda w: ProfileStep(action="quiet").pack(), VOLUNTEERS),
    row("vol:q", lambda w: ProfileStep(action="q", text="night").pack(), VOLUNTEERS),
    row("vol:langs", lambda w: ProfileStep(action="langs").pack(), VOLUNTEERS),
    row("vol:lang", lambda w: ProfileStep(action="lang", text="ko").pack(), VOLUNTEERS),
    row("vol:verify_list", lambda w: ProfileStep(action="verify_list").pack(), COORDINATORS),
    row("vol:verify", lambda w: ProfileStep(action="verify", value=w.other_volunteer).pack(), COORDINATOR),
    row("vol:become", lambda w: ProfileStep(action="become").pack(), MEMBERS),
    # Web: the dashboard's API (a coordinator of the branch asked about), the live screen
    # (public by its secret address, aggregates only) and the webhook (its secret token).
    row("GET /dashboard", lambda w: Web("GET", "/dashboard"), EVERYONE),
    row("GET /dashboard/api/me", lambda w: Web("GET", "/dashboard/api/me", w.branch_param), COORDINATOR),
    row("GET /dashboard/api/figures", lambda w: Web("GET", "/dashboard/api/figures", w.branch_param), COORDINATOR),
    row("GET /dashboard/api/board", lambda w: Web("GET", "/dashboard/api/board", {**w.branch_param, "list": "open"}), COORDINATOR),
    row("GET /dashboard/api/members", lambda w: Web("GET", "/dashboard/api/members", {**w.branch_param, "q": "Resident"}), COORDINATOR),
    row("GET /dashboard/api/needs", lambda w: Web("GET", "/dashboard/api/needs", w.branch_param), COORDINATOR),
    row("GET /dashboard/api/export", lambda w: Web("GET", "/dashboard/api/export", {**w.branch_param, "kind": "members", "format": "csv"}), COORDINATOR),
    row("GET /dashboard/api/screen", lambda w: Web("GET", "/dashboard/api/screen", w.branch_param), COORDINATOR),
    row("POST /dashboard/api/screen", lambda w: Web("POST", "/dashboard/api/screen", w.branch_param), COORDINATOR),
    row("GET /screen/{token}", lambda w: Web("GET", f"/screen/{w.screen_token}"), EVERYONE),
    row("GET /screen/{token}/figures", lambda w: Web("GET", f"/screen/{w.screen_token}/figures"), EVERYONE),
    row("POST /telegram/webhook", lambda w: Web("POST", "/telegram/webhook"), NOBODY),
    # ---- The features that came after the first rows (market days, shops, classes, parking,
    # offers, broadcasts, needs, teams, statistics, the digest, the dashboard's new calls).
    # Broadcasts: coordinators compose for their own branch; steering is the branch's.
    row("bct:compose", lambda w: CoordinatorTool(action="compose").pack(), COORDINATORS),
    row("bct:history", lambda w: CoordinatorTool(action="history").pack(), COORDINATORS),
    row("bcs:pause", lambda w: SteerBroadcast(action="pause", broadcast_id=w.broadcast).pack(), COORDINATOR),
    row("bcs:resume", lambda w: SteerBroadcast(action="resume", broadcast_id=w.paused_broadcast).pack(), COORDINATOR),
    row("bcs:cancel", lambda w: SteerBroadcast(action="cancel", broadcast_id=w.broadcast).pack(), COORDINATOR),
    row("bcc", lambda w: ComeToEvent(broadcast_id=w.broadcast).pack(), RESIDENT | RELATIVE),  # its recipients
    row("bca", lambda w: Announcements(wanted=False).pack(), MEMBERS),
    # Market days: anyone signed up looks and books; their booking is theirs; the desk and
    # shifts are the staff's; the report, the shift list and the day itself the branch's.
    row("mk:nw", lambda w: Market(action="nw").pack(), COORDINATORS),
    row("mk:ev", lambda w: Market(action="ev", event=w.market_event).pack(), MEMBERS),
    row("mk:un", lambda w: Market(action="un", event=w.market_event, item=w.market_unit).pack(), MEMBERS),
    row("mk:mp", lambda w: Market(action="mp", event=w.market_event).pack(), MEMBERS),
    row("mk:my", lambda w: Market(action="my", event=w.market_event).pack(), MEMBERS),
    row("mk:bk", lambda w: Market(action="bk", event=w.market_event, item=w.market_slot).pack(), MEMBERS - RESIDENT - OTHER_COORDINATOR - SECOND_COORDINATOR),  # the resident has booked there
    row("mk:bk (for the resident)", lambda w: Market(action="bk", event=w.market_event, item=w.market_other_slot, who=w.resident).pack(), RESIDENT | RELATIVE),  # a coordinator books only for residents without a phone
    row("mk:bg", lambda w: Market(action="bg", event=w.market_event, item=w.market_booking).pack(), RESIDENT),
    row("mk:cx", lambda w: Market(action="cx", event=w.market_event, item=w.market_booking).pack(), RESIDENT),
    row("mk:cy", lambda w: Market(action="cy", event=w.market_event, item=w.market_booking).pack(), RESIDENT | COORDINATOR),  # a coordinator may cancel for a resident
    row("mk:fo", lambda w: Market(action="fo", event=w.market_event).pack(), MEMBERS),
    row("mk:dk", lambda w: Market(action="dk", event=w.market_event).pack(), VOLUNTEER | COORDINATOR),
    row("mk:hp", lambda w: Market(action="hp", event=w.market_event).pack(), VOLUNTEERS),
    row("mk:sh", lambda w: Market(action="sh", event=w.market_event, item=w.market_unit).pack(), VOLUNTEERS),
    row("mk:ss", lambda w: Market(action="ss", event=w.market_event).pack(), COORDINATOR),
    row("mk:cr", lambda w: Market(action="cr", event=w.market_event, item=w.market_shift).pack(), COORDINATOR),
    row("mk:cf", lambda w: Market(action="cf", event=w.market_event).pack(), NOBODY),  # the day is not over: refused even to its coordinator
    row("mk:rp", lambda w: Market(action="rp", event=w.market_event).pack(), COORDINATOR),
    row("mk:cs", lambda w: Market(action="cs", event=w.market_event).pack(), COORDINATOR),
    row("mk:tt", lambda w: Market(action="tt", event=w.market_event).pack(), COORDINATOR),
    row("mk:mv", lambda w: Market(action="mv", event=w.market_event, n=w.market_version).pack(), COORDINATOR),
    row("mk:vn", lambda w: Market(action="vn", event=w.market_event, n=w.market_version).pack(), COORDINATOR),
    row("mk:co", lambda w: Market(action="co", event=w.market_event).pack(), COORDINATOR),
    row("mk:cz", lambda w: Market(action="cz", event=w.market_event, n=w.market_version).pack(), COORDINATOR),
    # Spending hours at partner shops: a member's own codes; the counter is its staff's; the
    # shops' admin and year-end recognition their branch's coordinator's.
    row("spd:shelf", lambda w: Spend(action="shelf").pack(), MEMBERS),
    row("spd:item", lambda w: Spend(action="item", item_id=w.shop_item).pack(), MEMBERS - OTHER_COORDINATOR - SECOND_COORDINATOR),
    row("spd:redeem", lambda w: Spend(action="redeem", item_id=w.shop_item).pack(), MEMBERS - OTHER_COORDINATOR - SECOND_COORDINATOR),
    row("spd:mine", lambda w: Spend(action="mine").pack(), MEMBERS),
    row("spd:show", lambda w: Spend(action="show", redemption_id=w.redemption).pack(), RESIDENT),
    row("spd:cancel", lambda w: Spend(action="cancel", redemption_id=w.redemption).pack(), RESIDENT),
    row("spd:cancel_yes", lambda w: Spend(action="cancel_yes", redemption_id=w.redemption).pack(), RESIDENT),
    row("ctr:confirm", lambda w: Counter(action="confirm", code=w.redemption_code).pack(), MERCHANT),
    row("ctr:type_code", lambda w: Counter(action="type_code").pack(), MERCHANT),
    row("ctr:items", lambda w: Counter(action="items").pack(), MERCHANT),
    row("ctr:add_item", lambda w: Counter(action="add_item").pack(), MERCHANT),
    row("ctr:sales", lambda w: Counter(action="sales", period="month").pack(), MERCHANT),
    row("ctr:statement", lambda w: Counter(action="statement", fmt="csv").pack(), MERCHANT),
    row("sha:list", lambda w: ShopAdmin(action="list").pack(), COORDINATORS),
    row("sha:register", lambda w: ShopAdmin(action="register").pack(), COORDINATORS),
    row("sha:view", lambda w: ShopAdmin(action="view", merchant_id=w.shop).pack(), COORDINATOR),
    row("sha:invite", lambda w: ShopAdmin(action="invite", merchant_id=w.shop).pack(), COORDINATOR),
    row("sha:hide", lambda w: ShopAdmin(action="hide", merchant_id=w.shop, item_id=w.shop_item).pack(), COORDINATOR),
    row("sha:show", lambda w: ShopAdmin(action="show", merchant_id=w.shop, item_id=w.shop_item).pack(), COORDINATOR),
    row("sha:settle", lambda w: ShopAdmin(action="settle", merchant_id=w.shop).pack(), COORDINATOR),
    row("hon:period", lambda w: Honour(action="period", start=739000, end=739365).pack(), COORDINATORS),
    row("hon:toggle", lambda w: Honour(action="toggle", start=739000, end=739365, member_id=w.volunteer).pack(), COORDINATORS),  # each sees their own branch
    row("hon:send", lambda w: Honour(action="send", start=739000, end=739365).pack(), NOBODY),  # only after choosing on the board
    row("myr:certificate", lambda w: Mine(action="certificate", start=739000, end=739365).pack(), MEMBERS),
    row("myr:off", lambda w: Mine(action="off").pack(), MEMBERS),
    row("myr:on", lambda w: Mine(action="on").pack(), MEMBERS),
    # Classes: the branch's members look and enrol; a seat is its holder's; the roll the teacher's.
    row("cls:v", lambda w: ClassCb(action="v", item=w.community_class).pack(), MEMBERS - OTHER_COORDINATOR - SECOND_COORDINATOR),
    row("cls:e", lambda w: ClassCb(action="e", item=w.community_class).pack(), MEMBERS - OTHER_COORDINATOR - SECOND_COORDINATOR - RESIDENT - VOLUNTEER),  # the resident has a seat; the volunteer teaches it
    row("cls:k", lambda w: ClassCb(action="k", item=w.community_class).pack(), MEMBERS - OTHER_COORDINATOR - SECOND_COORDINATOR),
    row("cls:x", lambda w: ClassCb(action="x", item=w.community_class, value=w.enrolment).pack(), RESIDENT),
    row("cls:t", lambda w: ClassCb(action="t").pack(), VOLUNTEERS),
    row("cls:r", lambda w: ClassCb(action="r", item=w.class_session).pack(), VOLUNTEER),
    row("cls:g", lambda w: ClassCb(action="g", item=w.class_session, value=w.enrolment).pack(), VOLUNTEER),
    row("cls:s", lambda w: ClassCb(action="s", item=w.class_session).pack(), NOBODY),  # before the session begins: refused even to its teacher
    row("cls:n", lambda w: ClassCb(action="n").pack(), VOLUNTEERS),
    # Near me, and volunteers' standing offers.
    row("near:s", lambda w: Near(action="s").pack(), MEMBERS),
    row("near:r", lambda w: Near(action="r").pack(), VOLUNTEERS),
    row("near:t", lambda w: Near(action="t", item=w.open).pack(), VOLUNTEER),  # verified volunteers only
    row("near:o", lambda w: Near(action="o").pack(), MEMBERS),
    row("near:c", lambda w: Near(action="c").pack(), MEMBERS),
    row("near:p", lambda w: Near(action="p").pack(), MEMBERS),
    row("ofr:a", lambda w: OfferCb(action="a", item=w.offer).pack(), MEMBERS - VOLUNTEER - OTHER_COORDINATOR - SECOND_COORDINATOR),
    row("ofr:w", lambda w: OfferCb(action="w", item=w.offer).pack(), RESIDENT | OTHER_VOLUNTEER),  # the branch's members with a home on file
    row("ofr:m", lambda w: OfferCb(action="m").pack(), VOLUNTEERS),
    row("ofr:n", lambda w: OfferCb(action="n").pack(), VOLUNTEERS),
    row("ofr:c", lambda w: OfferCb(action="c", item=1).pack(), VOLUNTEERS),
    row("ofr:x", lambda w: OfferCb(action="x", item=w.offer).pack(), VOLUNTEER),
    # Parking: the branch's members look and book a neighbour's space; a booking is its two sides'.
    row("park:v", lambda w: ParkCb(action="v", item=w.parking_space).pack(), MEMBERS - OTHER_COORDINATOR - SECOND_COORDINATOR),
    row("park:h", lambda w: ParkCb(action="h", item=w.parking_space, value=w.parking_start).pack(), MEMBERS - OTHER_COORDINATOR - SECOND_COORDINATOR),
    row("park:b", lambda w: ParkCb(action="b", item=w.parking_space, value=w.parking_start, hours=2).pack(), MEMBERS - OTHER_COORDINATOR - SECOND_COORDINATOR - RESIDENT),
    row("park:k", lambda w: ParkCb(action="k", item=w.parking_booking).pack(), RESIDENT | VOLUNTEER),
    row("park:o", lambda w: ParkCb(action="o", item=w.parking_booking).pack(), RESIDENT | VOLUNTEER),
    row("park:x", lambda w: ParkCb(action="x", item=w.parking_booking).pack(), RESIDENT | VOLUNTEER),
    row("park:m", lambda w: ParkCb(action="m").pack(), MEMBERS),
    row("park:n", lambda w: ParkCb(action="n").pack(), MEMBERS),
    # Needs: any member raises one; the branch's coordinator reads and answers them.
    row("nd:overview", lambda w: NeedAction(action="overview").pack(), COORDINATORS),
    row("nd:category", lambda w: NeedAction(action="category", value=w.need_category).pack(), COORDINATOR),
    row("nd:view", lambda w: NeedAction(action="view", value=w.need).pack(), COORDINATOR),
    row("nd:voice", lambda w: NeedAction(action="voice", value=w.need).pack(), COORDINATOR),
    row("nd:planned", lambda w: NeedAction(action="planned", value=w.need).pack(), COORDINATOR),
    row("nd:done", lambda w: NeedAction(action="done", value=w.need).pack(), COORDINATOR),
    row("nd:same_as", lambda w: NeedAction(action="same_as", value=w.other_need).pack(), COORDINATOR),
    row("nd:merge", lambda w: NeedAction(action="merge", value=w.other_need, into=w.need).pack(), COORDINATOR),
    # Teams: a team's members see it, its leader writes to it, and so may the branch's coordinator.
    row("tm:list", lambda w: TeamAction(action="list").pack(), MEMBERS),
    row("tm:view", lambda w: TeamAction(action="view", team_id=w.team).pack(), VOLUNTEERS | COORDINATOR),
    row("tm:write", lambda w: TeamAction(action="write", team_id=w.team).pack(), VOLUNTEER | COORDINATOR),
    # The branch's figures and reports, for its coordinators.
    row("sts:week", lambda w: StatsAction(action="week").pack(), COORDINATORS),
    row("sts:csv", lambda w: StatsAction(action="csv").pack(), COORDINATORS),
    row("sts:report", lambda w: StatsAction(action="report", first="2025-01-01").pack(), COORDINATORS),
    # The weekly digest, each member's own setting.
    row("dg:on", lambda w: DigestAction(action="on", hour=9).pack(), MEMBERS),
    row("dg:off", lambda w: DigestAction(action="off").pack(), MEMBERS),
    # The dashboard's new calls: the branch's coordinator only.
    row("GET /dashboard/api/candidates", lambda w: Web("GET", "/dashboard/api/candidates", {**w.branch_param, "order": str(w.open)}), COORDINATOR),
    row("POST /dashboard/api/board", lambda w: Web("POST", "/dashboard/api/board", w.branch_param, {"action": "sponsor", "order_id": w.open}), COORDINATOR),
    row("GET /dashboard/api/members/{member_id}/address", lambda w: Web("GET", f"/dashboard/api/members/{w.resident}/address", w.branch_param), COORDINATOR),
    row("POST /dashboard/api/members/{member_id}/verify", lambda w: Web("POST", f"/dashboard/api/members/{w.other_volunteer}/verify", w.branch_param), COORDINATOR),
    row("POST /dashboard/api/members/{member_id}/adjust", lambda w: Web("POST", f"/dashboard/api/members/{w.resident}/adjust", w.branch_param, {"minutes": 30, "reason": "A visit not recorded", "key": "authz-adjust-1"}), COORDINATOR),
    row("GET /dashboard/api/report", lambda w: Web("GET", "/dashboard/api/report", w.branch_param), COORDINATOR),
    # Asking, helping and settling, per action since their actions became enums (main's reshape).
    row("ask:what", lambda w: AskStep(action="what", draft="forged").pack(), NOBODY),
    row("ask:describe", lambda w: AskStep(action="describe", draft="forged").pack(), NOBODY),
    row("ask:when", lambda w: AskStep(action="when", draft="forged").pack(), NOBODY),
    row("ask:where", lambda w: AskStep(action="where", draft="forged").pack(), NOBODY),
    row("ask:duration", lambda w: AskStep(action="duration", draft="forged").pack(), NOBODY),
    row("ask:send", lambda w: AskStep(action="send", draft="forged").pack(), NOBODY),
    row("ask:cancel", lambda w: AskStep(action="cancel", draft="forged").pack(), NOBODY),
    row("ostep:done", lambda w: OrderStep(action="done", order_id=w.accepted).pack(), VOLUNTEER),
    row("ostep:other", lambda w: OrderStep(action="other", order_id=w.accepted).pack(), VOLUNTEER),
    row("ostep:back", lambda w: OrderStep(action="back", order_id=w.accepted).pack(), VOLUNTEER),
    row("ostep:stars", lambda w: OrderStep(action="stars", order_id=w.ended, value=4).pack(), RESIDENT),
    row("ostep:thanks_skip", lambda w: OrderStep(action="thanks_skip", order_id=w.ended).pack(), MEMBERS),  # ends only the tapper's own step
    row("ostep:card", lambda w: OrderStep(action="card", order_id=w.accepted).pack(), VOLUNTEER),
    row("ostep:mine", lambda w: OrderStep(action="mine", order_id=0).pack(), MEMBERS),  # the tapper's own list
    row("stl:view", lambda w: Settle(action="view", order_id=w.disputed).pack(), COORDINATOR),
    row("stl:minutes", lambda w: Settle(action="minutes", order_id=w.disputed, value=60).pack(), COORDINATOR),
    row("stl:other", lambda w: Settle(action="other", order_id=w.disputed).pack(), COORDINATOR),
    row("stl:none", lambda w: Settle(action="none", order_id=w.disputed).pack(), COORDINATOR),
    # several branches
    row("/branch", _cmd("/branch"), MEMBERS),
    row("/joinbranch", _cmd("/joinbranch"), MEMBERS),
    row("brn:menu", lambda w: BranchStep(action=BranchAct.MENU).pack(), MEMBERS),
    row("brn:switch", lambda w: BranchStep(action=BranchAct.SWITCH, branch_id=w.branch_id).pack(), COORDINATOR),
    row("brn:join_menu", lambda w: BranchStep(action=BranchAct.JOIN_MENU).pack(), MEMBERS),
    row("brn:join", lambda w: BranchStep(action=BranchAct.JOIN, branch_id=w.branch_id).pack(), OTHER_COORDINATOR),
    row("brn:close", lambda w: BranchStep(action=BranchAct.CLOSE).pack(), MEMBERS),
    row("brnok", lambda w: JoinAnswer(member_id=w.other_coordinator, branch_id=w.branch_id).pack(), COORDINATOR),
    # A coordinator forms a team (in the branch they work in) and sets the branch's neighbours.
    row("/newteam", _cmd("/newteam"), COORDINATORS),
    row("tm:new", lambda w: TeamAction(action="new").pack(), COORDINATORS),
    row("nbr:view", lambda w: Neighbours(action=NbrAct.VIEW, branch_id=w.branch_id).pack(), COORDINATOR),
    row("nbr:set", lambda w: Neighbours(action=NbrAct.SET, branch_id=w.branch_id, other_id=w.other_branch_id, on=True).pack(), COORDINATOR),
    row("nbr:set (itself)", lambda w: Neighbours(action=NbrAct.SET, branch_id=w.branch_id, other_id=w.branch_id, on=True).pack(), NOBODY),
    row("nbr:match", lambda w: Neighbours(action=NbrAct.MATCH, branch_id=w.branch_id, on=True).pack(), COORDINATOR),
]
# fmt: on
