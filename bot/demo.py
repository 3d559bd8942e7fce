"""`timebank demo`: the bot and the local Bot API server with a web chat, no token needed.

The demo's resident, volunteer and coordinator are the Luoshan members `seed-demo` creates:
they arrive signed up, with the bot already started (so its alerts reach them), and the
journey from a request to both passbooks runs from the first tap.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.runner import serve
from core.community_demo import seed_community_demo
from core.config import Settings
from core.db import create_engine, session_factory, transaction
from core.demo import MEMBERS, ready_the_journey, seed_demo
from core.migrate import upgrade_engine
from sandbox.server import SandboxServer
from sandbox.state import User

DEMO_TOKEN = "1000000001:TIMEBANK-demo"
DEMO_DATABASE = "sqlite:///timebank-demo.db"
DEMO_STATE = "timebank-demo-chats.json"

# Seen at the Luoshan members' homes (core.demo), as the page's location button shares it.
PERSONAS: list[dict[str, Any]] = [
    {
        "key": "resident", "role": "resident", "user_id": 900001, "started": True,
        "first_name": "王芳", "language_code": "zh-hans",
        "phone_number": "+8613800000001",
        "location": {"latitude": 31.2141, "longitude": 121.5532},
    },
    {
        "key": "volunteer", "role": "volunteer", "user_id": 900002, "started": True,
        "first_name": "김민지", "language_code": "ko",
        "phone_number": "+821000000002",
        "location": {"latitude": 31.2102, "longitude": 121.5611},
    },
    {
        "key": "coordinator", "role": "coordinator", "user_id": 900003, "started": True,
        "first_name": "Li Wei", "language_code": "en",
        "phone_number": "+8613800000003",
        "location": {"latitude": 31.2135, "longitude": 121.5560},
    },
]  # fmt: skip

# The journey the page suggests, in the page's language; {resident} etc. are persona names.
# Buttons are named by their emoji, which each pane shows whatever its own language.
GUIDE: dict[str, Any] = {
    "steps": [
        {"persona": "resident", "text": {
            "zh-hans": "{resident}（居民）：点“🙋 请人帮忙”，用按钮回答几个问题，再点“✅ 发送”。",
            "ko": "{resident}(주민): “🙋 도움 요청하기”를 누르고 버튼으로 답한 뒤 "
                  "“✅ 보내기”를 눌러요.",
            "en": "{resident} (resident): tap 🙋 Ask for help, answer with the buttons, "
                  "then ✅ Send.",
        }},
        {"persona": "volunteer", "text": {
            "zh-hans": "{volunteer}（志愿者）：几秒后会收到 🔔 求助通知，点“✅ 我来帮忙”。",
            "ko": "{volunteer}(봉사자): 몇 초 뒤 🔔 도움 요청이 오면 “✅ 맡을게요”를 눌러요.",
            "en": "{volunteer} (volunteer): a 🔔 request arrives within seconds; tap ✅ Accept.",
        }},
        {"persona": "volunteer", "text": {
            "zh-hans": "{volunteer}：帮完忙后点“✔️ 完成了”，再选用了多长时间。",
            "ko": "{volunteer}: 도와드린 뒤 “✔️ 다 했어요”를 누르고 걸린 시간을 골라요.",
            "en": "{volunteer}: after helping, tap ✔️ Done and choose how long it took.",
        }},
        {"persona": "resident", "text": {
            "zh-hans": "{resident}：点星星 ⭐ 确认时间。",
            "ko": "{resident}: 별(⭐)을 눌러 시간을 확인해요.",
            "en": "{resident}: confirm the time by tapping the stars ⭐.",
        }},
        {"persona": None, "text": {
            "zh-hans": "两人都点“📒 我的存折”：时间从一方转到了另一方。",
            "ko": "두 사람 모두 “📒 내 통장”을 열어 보세요. "
                  "시간이 한 분에게서 다른 분에게 옮겨 갔어요.",
            "en": "Both: tap 📒 My passbook and see the time move from one to the other.",
        }},
        {"persona": "resident", "text": {
            "zh-hans": "{resident}：点“🎁 用我的时间”，选一样东西，点“🎟 领兑换码”，"
                       "就会收到一张二维码，在店里出示即可。",
            "ko": "{resident}: “🎁 내 시간 쓰기”에서 물건을 고르고 “🎟 코드 받기”를 누르면 "
                  "가게에서 보여 줄 QR 그림이 와요.",
            "en": "{resident}: tap 🎁 Spend my hours, choose an item and 🎟 Get a code: "
                  "a QR picture to show at the shop.",
        }},
        {"persona": "coordinator", "text": {
            "zh-hans": "{coordinator}（协调员）可以随时用 /waiting 查看还在等待的求助。",
            "ko": "{coordinator}(코디네이터)는 언제든 /waiting 으로 기다리는 요청을 볼 수 있어요.",
            "en": "{coordinator} (coordinator) can see waiting requests any time with /waiting.",
        }},
        {"persona": "resident", "text": {
            "zh-hans": "{resident}：点“🎪 集市”，选“公益理发”和一个时间，就拿到预约号码和二维码。",
            "ko": "{resident}: “🎪 장터”를 누르고 무료 이발과 시간을 고르면 "
                  "예약 번호와 QR 코드가 와요.",
            "en": "{resident}: tap 🎪 Market days, choose the haircuts and a time: "
                  "a booking number and a QR code arrive.",
        }},
        {"persona": "coordinator", "text": {
            "zh-hans": "{coordinator}：在理发摊位值班。点“🎪 Market days”和这次集市，"
                       "再点“✅ Check people in”，输入预约号码为居民签到；"
                       "“📊 Report”里能看到统计。",
            "ko": "{coordinator}: 이발 부스 근무자예요. “🎪 Market days”에서 장터를 고르고 "
                  "“✅ Check people in”을 "
                  "누르고 예약 번호를 쓰면 입장 확인이 돼요. “📊 Report”에서 집계를 봐요.",
            "en": "{coordinator} staffs the haircuts: tap 🎪 Market days, the market day, "
                  "✅ Check people in, "
                  "and type the booking number; 📊 Report counts it.",
        }},
        {"persona": "resident", "text": {
            "zh-hans": "{resident}：点“📍 我的附近”，再点“🎓 课程”："
                       "选智能手机课，点“✅ 我要报名”。",
            "ko": "{resident}: “📍 내 근처”와 “🎓 수업”을 누르고 스마트폰 교실에서 "
                  "“✅ 제 자리 잡기”를 눌러요.",
            "en": "{resident}: tap 📍 Near me, then 🎓 Classes: choose the smartphone class "
                  "and ✅ A seat for me.",
        }},
        {"persona": "volunteer", "text": {
            "zh-hans": "{volunteer}：点“📍 我的附近”，能看到附近的求助（只显示小区，不显示地址）；"
                       "“🅿️ 车位”里可以预订{resident}分享的车位。",
            "ko": "{volunteer}: “📍 내 근처”를 누르면 근처 요청이 보여요"
                  "(동네만, 주소는 안 보여요). “🅿️ 주차 공간”에서 {resident} 님이 "
                  "나누는 자리를 예약해요.",
            "en": "{volunteer}: 📍 Near me lists the requests nearby (the area, never the "
                  "address); 🅿️ Parking spaces books the space {resident} shares.",
        }},
    ]
}  # fmt: skip

# Nudge waves go out at the sweep: a short interval keeps the demo's journey quick.
DEMO_SWEEP_SECONDS = 5


def demo_log_level(settings: Settings, environ: Mapping[str, str]) -> str:
    """TIMEBANK_LOG_LEVEL when it is set; otherwise only warnings, to keep the terminal calm."""
    return settings.log_level if "TIMEBANK_LOG_LEVEL" in environ else "WARNING"


async def _prepare_database(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade_engine(engine)
        async with transaction(session_factory(engine), write=True) as session:
            await seed_demo(session)
            await ready_the_journey(session)
            await seed_community_demo(session)
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def demo(
    settings: Settings,
    port: int,
    *,
    host: str = "127.0.0.1",
    state_file: Path | None = None,
    personas: list[dict[str, Any]] = PERSONAS,
) -> AsyncIterator[SandboxServer]:
    """The sandbox with its web chat and the bot polling it, on a seeded database."""
    await _prepare_database(settings.database_url)
    sandbox = SandboxServer(
        host,
        port,
        bots=[{"token": DEMO_TOKEN, "username": "timebank_demo_bot"}],
        state_file=state_file,
        demo_personas=personas,
        demo_guide=GUIDE if personas is PERSONAS else None,
        language_command="/language",
    )
    await sandbox.start()
    greet = _start_chats(sandbox, personas)
    _number_newcomers_above_seeded(sandbox)
    bot_settings = settings.model_copy(
        update={
            "telegram_api_url": sandbox.base_url,
            "telegram_token": SecretStr(DEMO_TOKEN),
            "sweep_seconds": min(settings.sweep_seconds, DEMO_SWEEP_SECONDS),
        }
    )
    bot = asyncio.create_task(serve(bot_settings, handle_signals=False))
    for user in greet:
        sandbox.actions.send_command(sandbox.default_bot, user, "/start")
    try:
        yield sandbox
        if bot.done():
            bot.result()
    finally:
        bot.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bot
        await sandbox.stop()


def _start_chats(sandbox: SandboxServer, personas: list[dict[str, Any]]) -> list[User]:
    """Open the chat of each persona marked `started`, as if they had pressed START, so the
    bot may write to them first; returns those whose chat is new, to be greeted."""
    bot = sandbox.default_bot
    new = []
    for persona in personas:
        if not persona.get("started"):
            continue
        user = sandbox.state.users.get(persona["user_id"]) or sandbox.add_user(
            persona["first_name"],
            user_id=persona["user_id"],
            last_name=persona.get("last_name"),
            language_code=persona.get("language_code"),
            phone_number=persona.get("phone_number"),
        )
        chat = sandbox.state.chat(bot, user.id, create=True)
        assert chat is not None
        if not chat.started:
            chat.started = True
            new.append(user)
    return new


def _number_newcomers_above_seeded(sandbox: SandboxServer) -> None:
    """A user added to the running demo (through the control API) gets an id above every
    seeded member's, or the bot would take them for the member who has that id."""
    seeded = max(int(member.external_id) for member in MEMBERS)
    sandbox.state.next_user_id = max(sandbox.state.next_user_id, seeded + 1)


async def run_demo(settings: Settings, port: int) -> None:
    """Serve the demo until Ctrl-C or SIGTERM; chats are kept in a file across restarts.
    The coordinators' dashboard is served two ports up unless settings say where."""
    if not settings.web_public_url:
        settings = settings.model_copy(
            update={
                "web_host": "127.0.0.1",
                "web_port": port + 2,
                "web_public_url": f"http://127.0.0.1:{port + 2}",
            }
        )
    async with demo(settings, port, state_file=Path(DEMO_STATE)) as sandbox:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(
            f"Time bank demo: open {sandbox.base_url}/ in a browser (Ctrl-C stops it)", flush=True
        )
        await stop.wait()
