"""The pure logic of bench.city's day: schedule, racers, buttons, pairing taps and replies."""

from __future__ import annotations

import random
from typing import Any

from bench import city_day as cd
from bench.e2e import percentile
from bot.handlers.asking.callbacks import AskAction, AskStep
from bot.handlers.broadcasts.callbacks import ComeToEvent
from bot.handlers.helping.callbacks import Do, NudgeAnswer, OrderStep


def message(
    message_id: int, text: str = "", buttons: list[str] = (), **markup: Any
) -> dict[str, Any]:
    rows = [[{"text": data, "callback_data": data}] for data in buttons]
    return {
        "message_id": message_id,
        "text": text,
        "reply_markup": markup or ({"inline_keyboard": rows} if rows else None),
    }


def event(seq: int, chat: int, by: str, kind: str = "message", at: float = 0.0, **extra: Any):
    return {"seq": seq, "chat_id": chat, "by": by, "type": kind, "time": at, **extra}


def test_orders_come_in_the_day_at_its_rhythm() -> None:
    times = cd.order_times(2_000, 100.0, random.Random(1))
    assert len(times) == 2_000 and times == sorted(times)
    assert 0 <= times[0] and times[-1] <= 90.0
    morning_peak = sum(1 for t in times if 25 <= t < 35)
    quiet_dawn = sum(1 for t in times if 0 <= t < 10)
    assert morning_peak > 2 * quiet_dawn


def test_a_quarter_by_the_wizard() -> None:
    flags = cd.by_wizard(600, 0.25, random.Random(2))
    assert len(flags) == 600 and sum(flags) == 150
    assert flags != sorted(flags, reverse=True)  # spread, not the first 150


def test_racers_are_one_or_two_or_three_of_the_nudged() -> None:
    rng = random.Random(3)
    nudged = [11, 12, 13, 14, 15]
    assert all(len(cd.racers(nudged, rng, 0.0)) == 1 for _ in range(50))
    raced = [cd.racers(nudged, rng, 1.0) for _ in range(200)]
    assert {len(r) for r in raced} == {2, 3}
    assert all(len(set(r)) == len(r) and set(r) <= set(nudged) for r in raced)
    assert cd.racers([7], rng, 1.0) == [7]
    assert cd.racers([], rng, 1.0) == []


def test_button_patterns_match_the_bots_callback_data() -> None:
    accept = NudgeAnswer(nudge_id=3, accept=True).pack()
    decline = NudgeAnswer(nudge_id=3, accept=False).pack()
    assert cd.ACCEPT.match(accept) and not cd.ACCEPT.match(decline)
    steps = {
        "done": OrderStep(action=Do.DONE, order_id=9).pack(),
        "how long": OrderStep(action=Do.MINUTES, order_id=9, value=60).pack(),
        "rate": OrderStep(action=Do.STARS, order_id=9, value=5).pack(),
        "skip note": OrderStep(action=Do.THANKS_SKIP, order_id=9).pack(),
        "I'll come": ComeToEvent(broadcast_id=4).pack(),
    }
    for kind, data in steps.items():
        assert cd.next_tap(message(1, buttons=["other:1", data])) == (kind, data)
    four_stars = OrderStep(action=Do.STARS, order_id=9, value=4).pack()
    assert cd.next_tap(message(1, buttons=[four_stars])) is None
    assert cd.next_tap(message(1, buttons=[accept])) is None  # accept: decided by `racers`
    send = AskStep(action=AskAction.SEND, draft="d1").pack()
    assert cd.button(message(1, buttons=["ask:what:d1", send]), cd.SEND) == send


def test_reply_keyboards_and_notices() -> None:
    keyboard = {"keyboard": [[{"text": "🙋 Ask for help"}, "Help"]]}
    assert cd.reply_labels(keyboard) == ["🙋 Ask for help", "Help"]
    assert cd.reply_labels({"remove_keyboard": True}) == []
    assert cd.reply_labels({"inline_keyboard": []}) is None
    assert cd.reply_labels(None) is None
    nudge = message(1, "🔔 city #12: a hand", [NudgeAnswer(nudge_id=1, accept=True).pack()])
    assert cd.is_notice(nudge) and not cd.is_notice(message(2, "Balance"))
    assert cd.order_tag(nudge["text"]) == 12 and cd.order_tag("nothing") is None


def test_each_tap_pairs_with_the_first_reply_in_its_chat() -> None:
    help_tap = cd.Tap(chat=1, kind="help", seq=1, time=0.0)
    press = cd.Tap(chat=2, kind="done", seq=3, time=0.0, query_id="q2")
    late = cd.Tap(chat=1, kind="passbook", seq=10, time=0.0)
    events = [
        event(1, 1, "user", at=10.0),
        event(2, 2, "bot", at=10.01, message=message(5, "🔔 city #1", ["ndg:1:1"])),  # notice
        event(3, 2, "user", "callback_query", at=10.02),
        event(4, 1, "bot", at=10.05, message=message(6, "outbox says hi")),  # outbox notice
        event(5, 2, "bot", "callback_answer", at=10.06, callback={"id": "other"}),
        event(6, 1, "bot", at=10.10, message=message(7, "help text")),
        event(7, 2, "bot", "callback_answer", at=10.12, callback={"id": "q2"}),
        event(10, 1, "user", at=11.0),
    ]
    found, unanswered = cd.pair_replies([help_tap, press, late], events, {(1, 6)})
    assert [round(v) for v in found["help"]] == [100]
    assert [round(v) for v in found["done"]] == [100]
    assert unanswered == [late]


def test_updates_answered_twice() -> None:
    tap = cd.Tap(chat=1, kind="help", seq=1, time=0.0)
    once = [
        event(1, 1, "user"),
        event(2, 1, "bot", message=message(5, "help text")),
        event(3, 1, "bot", message=message(6, "🎉 Thank you! credited")),  # another's doing
    ]
    assert cd.doubled([tap], once) == []
    again = [*once, event(4, 1, "bot", message=message(7, "help text"))]
    assert cd.doubled([tap], again) == ["help"]
    after_next_tap = [
        *once,
        event(4, 1, "user"),
        event(5, 1, "bot", message=message(7, "help text")),
    ]
    assert cd.doubled([tap], after_next_tap) == []
    answered_twice = [
        event(8, 2, "bot", "callback_answer", callback={"id": "q"}),
        event(9, 2, "bot", "callback_answer", callback={"id": "q"}),
    ]
    assert cd.doubled([], answered_twice) == ["callback"]


def test_a_race_has_the_winners_its_chats_show() -> None:
    done = OrderStep(action=Do.DONE, order_id=40).pack()
    racers = [cd.Tap(chat=c, kind="accept", seq=10, time=0.0, query_id=f"q{c}") for c in (1, 2, 3)]
    events = [
        event(11, 1, "bot", "edit", message=message(5, "🙏 Yours: city #7", [done])),
        event(12, 2, "bot", "callback_answer", callback={"id": "q2"}),
        event(13, 3, "bot", "edit", message=message(6, "Another volunteer said yes: city #7")),
        event(9, 2, "bot", "edit", message=message(4, "🙏 Yours: city #7", [done])),  # before
        event(14, 2, "bot", "edit", message=message(8, "🙏 Yours: city #8", [done])),  # other
    ]
    assert cd.race_winners(racers, events, 7) == 1
    both = [*events, event(15, 3, "bot", "message", message=message(9, "city #7", [done]))]
    assert cd.race_winners(racers, both, 7) == 2


def test_percentile() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 51
    assert percentile(values, 0.99) == 100
    assert percentile([], 0.5) != percentile([], 0.5)  # nan


def test_new_messages_and_the_busiest_ten_seconds() -> None:
    events = [
        event(1, 1, "user", at=0.0),
        event(2, 1, "bot", at=0.1, message=message(5, "help text")),
        event(3, 2, "bot", at=0.2, message=message(6, "🔔 city #1", ["ndg:1:1"])),  # notice
        event(4, 3, "bot", at=0.3, message=message(7, "from the outbox")),
        event(5, 1, "bot", "edit", at=0.4, message=message(5, "edited")),  # not counted
        event(6, 1, "bot", "callback_answer", at=0.5, callback={"id": "q"}),  # not counted
        event(7, 4, "bot", at=30.0, message=message(8, "later")),
    ]
    sent, replies = cd.new_messages(events, {(3, 7)})
    assert sent == [0.1, 0.2, 0.3, 30.0] and replies == [0.1, 30.0]
    assert cd.busiest(sent) == 0.3 and cd.busiest(replies) == 0.1 and cd.busiest([]) == 0.0
