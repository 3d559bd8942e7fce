"""The log audit: a whole journey, every log line the bot writes on the way, and not one
of them holds a phone number, an address or the bot's token in clear.

The journey: a resident signs up and shares her phone number, asks for help at a typed
address, a volunteer accepts, says it is done, and she confirms. The lines are read as
the operator reads them: formatted by `core.logs.JsonFormatter`, at DEBUG, from every
logger of the bot's process (the local Bot API server's own loggers left out: they stand
for Telegram).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest

from core.db import transaction, utcnow
from core.logs import JsonFormatter
from core.models import Member
from tests.bot.conftest import TOKEN
from tests.bot.lang import t
from tests.bot.test_onboarding import member_of
from tests.bot.test_request_help import fill_in
from tests.bot.test_volunteer_journey import d, grant, sweep, until, volunteer

PHONE = "+8613800138000"
VOLUNTEER_PHONE = "+8613912345678"
ADDRESS = "12 Luoshan Road, flat 3"
SECRET = TOKEN.split(":", 1)[1]
# Any run of eight digits or more, however grouped, is a phone number until proven otherwise.
DIGIT_RUN = re.compile(r"\+?\d(?:[\s-]?\d){7,}")
# Loggers of the local Bot API server: Telegram's side, not the bot's.
TELEGRAMS_SIDE = ("sandbox", "aiohttp.access", "aiohttp.server", "aiohttp.web")
QUIET = ("aiosqlite", "asyncio", "sqlalchemy.engine")


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(TELEGRAMS_SIDE):
            self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every line of the bot process's log, as `setup_logging` would write it at DEBUG."""
    root = logging.getLogger()
    lines = Lines()
    levels = {name: logging.getLogger(name).level for name in QUIET}
    root_level = root.level
    root.addHandler(lines)
    root.setLevel(logging.DEBUG)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield lines.lines
    finally:
        root.removeHandler(lines)
        root.setLevel(root_level)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture(autouse=True)
def _no_scheduled_sweep(monkeypatch) -> None:
    monkeypatch.setenv("TIMEBANK_SWEEP_SECONDS", "0")


def leaks(line: str) -> list[str]:
    """What `line` (one JSON event) gives away; a digit run counts in its words, not in its
    time stamp or number fields (an update id is not a phone number)."""
    found = [
        what
        for what, needle in (
            ("phone", PHONE.lstrip("+")),
            ("phone", PHONE[-8:]),
            ("volunteer's phone", VOLUNTEER_PHONE[-8:]),
            ("address", "Luoshan Road"),
            ("token", SECRET),
        )
        if needle in line
    ]
    event = json.loads(line)
    words = [value for key, value in event.items() if key != "ts" and isinstance(value, str)]
    return found + [f"digits {run}" for text in words for run in DIGIT_RUN.findall(text)]


def test_the_audit_finds_what_it_looks_for() -> None:
    """The search itself can fail: each kind of secret, as it could be written, is found."""

    def event(text: str) -> str:
        return json.dumps({"ts": "2026-12-03T11:25:36", "event": text})

    for text in (f"contact {PHONE}", "call 138-0013-8000", "139 1234 5678", ADDRESS, TOKEN):
        assert leaks(event(text)), text
    assert not leaks('{"ts": "2026-12-03T11:25:36", "event": "update", "update_id": 4211000333}')


async def test_no_log_line_of_a_journey_holds_a_phone_an_address_or_the_token(
    person, sessions, log_lines
) -> None:
    lang = "en"
    resident = await person("Margaret", language_code="en", phone_number=PHONE)
    await resident.command("/start")
    await resident.wait_reply()
    await resident.tap("English")
    await resident.wait_reply()
    await resident.send("Margaret")
    await resident.wait_reply()
    await resident.tap("Luoshan, Shanghai")
    await resident.wait_reply()
    await resident.tap(t(lang, "🙋 I need help"))
    await resident.wait_reply()
    await resident.tap(t(lang, "📞 Share my phone number"))
    await resident.wait_reply()
    await resident.tap(t(lang, "🏘 Choose my neighbourhood"))
    await resident.wait_reply()
    await resident.tap(resident.keyboard_labels()[0])
    await resident.wait_reply()
    saved = await member_of(sessions, resident)
    assert saved.phone and saved.phone.endswith(PHONE[-8:])
    await grant(sessions, saved.id, 300)

    helper = await volunteer(person, sessions, "Tom", lang, 0.001)
    async with transaction(sessions, write=True) as s:
        (await s.get(Member, (await member_of(sessions, helper)).id)).phone = VOLUNTEER_PHONE
    await fill_in(resident, sessions, lang, where=ADDRESS, start="🙋 Ask for help")
    await resident.tap_inline(t(lang, "✅ Send"))
    await resident.wait_reply()

    await sweep(sessions, utcnow())
    await until(helper, t(lang, "🔔 Someone near you would like help"))
    await helper.tap_inline(t(lang, "✅ Accept"))
    await until(helper, ADDRESS)
    await until(resident, "Tom")
    await helper.tap_inline(t(lang, "✔️ Done"))
    await helper.wait_reply()
    await helper.tap_inline(d(lang, 90))
    await until(resident, d(lang, 90))
    await resident.tap_inline("⭐⭐⭐⭐⭐")
    await until(resident, t(lang, "Would you like to add a thank-you note? Just type it."))
    await resident.send(f"Thanks! Call me on {PHONE} next time, at {ADDRESS}.")
    await until(
        helper, t(lang, "🎉 Thank you! {duration} for {category} are now in your passbook.")[:3]
    )

    assert log_lines, "the journey was logged"
    found = {line: leaks(line) for line in log_lines if leaks(line)}
    assert not found, "\n".join(f"{what}: {line}" for line, what in found.items())
