"""How bench.chaos tells a duplicate from the documented at-least-once windows, from a
transcript alone (no bot, no sandbox)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench.chaos import HELP, TAG, Day, parser

ANSWER = "How I can help…"


def day(kills: dict[int, int] | None = None, dropped: tuple[int, ...] = ()) -> Day:
    """`kills`: the seq of each kill → how many of chat 1's /help were still pending."""
    made = Day(parser().parse_args([]), work=None)  # type: ignore[arg-type]
    made.help_text = ANSWER
    made.kill_seqs = list(kills or {})
    made.pending_helps = [Counter({1: n}) for n in (kills or {}).values()]
    made.dropped = set(dropped)
    return made


def chat(*steps: tuple[int, str]) -> dict[str, Any]:
    """(seq, "help" | "answer") in the order they happened."""
    return {
        "messages": [
            {"seq": seq, "from": "user", "text": HELP}
            if what == "help"
            else {"seq": seq, "from": "bot", "text": ANSWER}
            for seq, what in steps
        ]
    }


def test_an_answer_again_without_a_kill_is_a_duplicate() -> None:
    d = day()
    d.count_help_answered_again(1, chat((10, "help"), (11, "answer"), (12, "answer")))
    assert (d.figures.duplicates, d.figures.answered_again, d.figures.resent) == (1, 0, 0)


def test_a_kill_explains_an_answer_again_after_a_newer_help() -> None:
    # Answered, killed before it was confirmed; a new /help was sent while the bot started
    # again; the bot answers the old one again, then the new one.
    d = day(kills={12: 1})
    d.count_help_answered_again(
        1, chat((10, "help"), (11, "answer"), (20, "help"), (30, "answer"), (31, "answer"))
    )
    assert (d.figures.duplicates, d.figures.answered_again) == (0, 1)


def test_a_kill_explains_as_many_as_were_pending_and_answered() -> None:
    # Two /help pending at the kill, one of them not answered yet: one answer again.
    d = day(kills={21: 2})
    d.count_help_answered_again(
        1,
        chat((10, "help"), (11, "answer"), (20, "help"), (30, "answer"), (31, "answer"),
             (32, "answer")),
    )  # fmt: skip
    assert (d.figures.duplicates, d.figures.answered_again) == (1, 1)


def test_a_kill_after_confirmed_answers_explains_nothing() -> None:
    d = day(kills={12: 0})
    d.count_help_answered_again(1, chat((10, "help"), (11, "answer"), (30, "answer")))
    assert (d.figures.duplicates, d.figures.answered_again) == (1, 0)


def test_a_later_kill_still_explains_what_an_older_bot_answered() -> None:
    # The offset stayed at an older update in flight: both /help come back after each kill.
    d = day(kills={12: 1, 22: 2, 40: 2})
    d.count_help_answered_again(
        1,
        chat((10, "help"), (11, "answer"), (20, "help"), (21, "answer"), (30, "answer"),
             (31, "answer"), (41, "answer"), (42, "answer"), (43, "answer")),
    )  # fmt: skip
    assert (d.figures.duplicates, d.figures.answered_again) == (1, 4)


def test_an_answer_sent_again_after_its_connection_dropped_is_named_apart() -> None:
    d = day(dropped=(11,))
    d.count_help_answered_again(1, chat((10, "help"), (11, "answer"), (12, "answer")))
    assert (d.figures.duplicates, d.figures.resent) == (0, 1)


def test_a_notice_repeated_is_a_duplicate_unless_its_first_copy_was_dropped() -> None:
    d = day(dropped=(5,))
    notice = f"{TAG}3-1 is cancelled"
    d.count_again(1, notice, {"seq": 5, "text": notice}, {"seq": 9, "text": notice})
    d.count_again(1, notice, {"seq": 9, "text": notice}, {"seq": 14, "text": notice})
    assert (d.figures.resent, d.figures.duplicates) == (1, 1)
    assert d.duplicated == [f"notice to 1: {notice!r}"]
