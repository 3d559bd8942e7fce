"""The pure logic of `bench.city`'s day, apart from any running city: when orders come,
which volunteers race for one, which button a member taps next, and the pairing of each
tap with the bot's first reply (from the sandbox's event stream)."""

from __future__ import annotations

import math
import random
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# The kinds of tap, in the order the table prints them.
COMMANDS = {"help": "/help", "passbook": "/passbook", "menu": "/start"}
WIZARD = ("ask: start", "ask: what", "ask: describe", "ask: when", "ask: where", "ask: send")
KINDS = (*COMMANDS, *WIZARD, "accept", "done", "how long", "rate", "skip note", "I'll come")

# Inline buttons by their callback data (bot.handlers.*.callbacks).
ACCEPT = re.compile(r"^ndg:\d+:1$")
DONE = re.compile(r"^ostep:done:(\d+):")
MINUTES = re.compile(r"^ostep:minutes:(\d+):(\d+)$")
FIVE_STARS = re.compile(r"^ostep:stars:(\d+):5$")
SKIP_NOTE = re.compile(r"^ostep:thanks_skip:(\d+):")
COME = re.compile(r"^bcc:\d+$")
SEND = re.compile(r"^ask:send:")
# A message with these buttons is one the bot sends on its own (a nudge, an announcement,
# a request to confirm, an order's news), never the reply to a message the member sent.
NOTICE = (ACCEPT, COME, re.compile(r"^ostep:"))
TAG = re.compile(r"city #(\d+)")


def rhythm(share: float) -> float:
    """The day's relative activity at `share` of the day: morning and evening peaks."""
    return 0.4 + math.exp(-(((share - 0.3) / 0.08) ** 2)) + math.exp(-(((share - 0.8) / 0.1) ** 2))


def mean_rhythm() -> float:
    return sum(rhythm(s / 1000) for s in range(1000)) / 1000


def poisson(rng: random.Random, mean: float) -> int:
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def order_times(count: int, seconds: float, rng: random.Random, until: float = 0.9) -> list[float]:
    """`count` moments (seconds from the start, ascending) in the first `until` of the day,
    drawn at the day's rhythm (rejection sampling: the peaks get more)."""
    top = max(rhythm(s / 1000 * until) for s in range(1001))
    times: list[float] = []
    while len(times) < count:
        share = rng.random() * until
        if rng.random() * top <= rhythm(share):
            times.append(share * seconds)
    return sorted(times)


def by_wizard(count: int, share: float, rng: random.Random) -> list[bool]:
    """Which of `count` orders go through the ask-for-help wizard: `share` of them, spread."""
    wizard = round(count * share)
    flags = [True] * wizard + [False] * (count - wizard)
    rng.shuffle(flags)
    return flags


def racers(nudged: list[int], rng: random.Random, race_share: float) -> list[int]:
    """Who taps Accept for one order among the active volunteers it nudged: one, or for
    `race_share` of orders two or three at nearly the same time."""
    if not nudged:
        return []
    wanted = rng.choice((2, 3)) if rng.random() < race_share else 1
    return rng.sample(nudged, min(wanted, len(nudged)))


# ---------------------------------------------------------------------- buttons
def inline_buttons(message: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(label, callback data) of a message's inline keyboard, row by row."""
    markup = (message or {}).get("reply_markup") or {}
    return [
        (button.get("text", ""), button["callback_data"])
        for row in markup.get("inline_keyboard") or []
        for button in row
        if button.get("callback_data")
    ]


def reply_labels(markup: dict[str, Any] | None) -> list[str] | None:
    """The labels of a reply keyboard; [] when it is removed, None when `markup` is not one."""
    if not markup:
        return None
    if markup.get("remove_keyboard"):
        return []
    if "keyboard" not in markup:
        return None
    return [
        b if isinstance(b, str) else b.get("text", "") for row in markup["keyboard"] for b in row
    ]


def button(message: dict[str, Any] | None, pattern: re.Pattern[str]) -> str | None:
    """The callback data of the message's first button that matches `pattern`."""
    return next((data for _label, data in inline_buttons(message) if pattern.search(data)), None)


def is_notice(message: dict[str, Any] | None) -> bool:
    return any(button(message, pattern) for pattern in NOTICE)


def order_tag(text: str | None) -> int | None:
    """The bench's number of an order, from its description ("city #12") in a message."""
    found = TAG.search(text or "")
    return int(found.group(1)) if found else None


def next_tap(message: dict[str, Any]) -> tuple[str, str] | None:
    """The tap a member makes on this message of the bot: (kind, callback data), or None.
    Accept is not here: who accepts is decided per order (`racers`)."""
    for kind, pattern in (
        ("done", DONE), ("how long", MINUTES), ("rate", FIVE_STARS), ("skip note", SKIP_NOTE),
        ("I'll come", COME),
    ):  # fmt: skip
        data = button(message, pattern)
        if data:
            return kind, data
    return None


# ---------------------------------------------------------------------- replies
@dataclass(frozen=True)
class Tap:
    chat: int
    kind: str
    seq: int  # the sandbox's seq of the user's update
    time: float
    query_id: str | None = None  # an inline button's callback query


Notices = frozenset[tuple[int, int]] | set[tuple[int, int]]


def is_sent_notice(event: dict[str, Any], notices: Notices) -> bool:
    """A message the bot sent on its own: by its buttons, or (after the day) because the
    outbox sent it (`notices`: chat and message id of each)."""
    message = event.get("message") or {}
    return is_notice(message) or (event.get("chat_id"), message.get("message_id")) in notices


def is_reply(event: dict[str, Any], tap: Tap, notices: Notices = frozenset()) -> bool:
    """Does this bot event answer `tap`? A message that is a notice does not; a callback
    answer only answers its own query."""
    if event.get("by") != "bot" or event.get("chat_id") != tap.chat or event["seq"] <= tap.seq:
        return False
    kind = event.get("type")
    if kind == "callback_answer":
        return (event.get("callback") or {}).get("id") == tap.query_id
    if kind == "message":
        return not is_sent_notice(event, notices)
    return kind in ("edit", "delete")


def pair_replies(
    taps: Iterable[Tap], events: list[dict[str, Any]], notices: Notices = frozenset()
) -> tuple[dict[str, list[float]], list[Tap]]:
    """Per kind, ms from each tap (its update's event time) to the bot's first reply in
    that chat before the chat's next tap; and the taps with no reply."""
    times = {e["seq"]: e["time"] for e in events if e.get("by") == "user"}
    by_chat: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        if event.get("by") == "bot" and event.get("chat_id") is not None:
            by_chat[int(event["chat_id"])].append(event)
    for chat_events in by_chat.values():
        chat_events.sort(key=lambda e: e["seq"])
    taps_by_chat: dict[int, list[Tap]] = defaultdict(list)
    for tap in taps:
        taps_by_chat[tap.chat].append(tap)
    found: dict[str, list[float]] = defaultdict(list)
    unanswered: list[Tap] = []
    for chat, chat_taps in taps_by_chat.items():
        chat_taps.sort(key=lambda t: t.seq)
        for n, tap in enumerate(chat_taps):
            until = chat_taps[n + 1].seq if n + 1 < len(chat_taps) else math.inf
            reply = next(
                (e for e in by_chat[chat] if e["seq"] < until and is_reply(e, tap, notices)),
                None,
            )
            if reply is None:
                unanswered.append(tap)
            else:
                found[tap.kind].append((reply["time"] - times.get(tap.seq, tap.time)) * 1000)
    return found, unanswered


def doubled(
    taps: Iterable[Tap], events: list[dict[str, Any]], notices: Notices = frozenset()
) -> list[str]:
    """The kinds of the updates handled twice, as far as the chats show: a command whose
    first reply comes again before the chat's next tap (a notice, or a message another
    member's tap caused, differs from it), and callback queries answered more than once."""
    answers: dict[str, int] = defaultdict(int)
    for event in events:
        if event.get("type") == "callback_answer":
            answers[(event.get("callback") or {}).get("id", "")] += 1
    twice = ["callback"] * sum(1 for count in answers.values() if count > 1)
    by_chat: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        if event.get("type") == "message" and event.get("chat_id") is not None:
            by_chat[int(event["chat_id"])].append(event)
    for tap in taps:
        if tap.kind not in COMMANDS:
            continue
        chat = by_chat[tap.chat]
        until = next(
            (e["seq"] for e in chat if e.get("by") == "user" and e["seq"] > tap.seq), math.inf
        )
        texts = [
            (e.get("message") or {}).get("text") for e in chat
            if e.get("by") == "bot" and tap.seq < e["seq"] < until
            and not is_sent_notice(e, notices)
        ]  # fmt: skip
        if texts and texts.count(texts[0]) > 1:
            twice.append(tap.kind)
    return twice


def race_winners(racer_taps: list[Tap], events: list[dict[str, Any]], tag: int) -> int:
    """How many of one order's racers were told it is theirs: a message or edit in their
    chat after their tap that names the order and carries its Done button."""
    chats = {tap.chat: tap.seq for tap in racer_taps}
    won = set()
    for event in events:
        chat = event.get("chat_id")
        if (
            event.get("by") == "bot"
            and event.get("type") in ("message", "edit")
            and chat in chats
            and event["seq"] > chats[chat]
            and order_tag((event.get("message") or {}).get("text")) == tag
            and button(event.get("message"), DONE)
        ):
            won.add(chat)
    return len(won)


# ---------------------------------------------------------------- Telegram's limit
def busiest(times: Iterable[float], window: float = 10.0) -> float:
    """The most events in any `window` seconds (starting at an event), per second."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(ordered):
        while ordered[start] < at - window:
            start += 1
        most = max(most, end - start + 1)
    return most / window


def new_messages(
    events: list[dict[str, Any]], notices: Notices = frozenset()
) -> tuple[list[float], list[float]]:
    """The times of the new messages the bot sent (what Telegram's ~30 a second counts;
    edits and callback answers are not counted), and of those that were replies (not sent
    by the outbox)."""
    sent = [
        e for e in events if e.get("by") == "bot" and e.get("type") == "message" and "time" in e
    ]
    return (
        [e["time"] for e in sent],
        [e["time"] for e in sent if not is_sent_notice(e, notices)],
    )
