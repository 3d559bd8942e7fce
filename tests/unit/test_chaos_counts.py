"""How bench.chaos tells a duplicate from the documented at-least-once windows, from a
transcript alone (no bot, no sandbox)."""

from __future__ import annotations

from typing import Any

from bench.chaos import HELP, TAG, Day, parser

ANSWER = "How I can help…"


def day(kills: tuple[int, ...] = (), dropped: tuple[int, ...] = ()) -> Day:
    made = Day(parser().parse_args([]), work=None)  # type: ignore[arg-type]
    made.help_text = ANSWER
    made.kill_seqs = list(kills)
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
    d = day(kills=(12,))
    d.count_help_answered_again(
        1, chat((10, "help"), (11, "answer"), (20, "help"), (30, "answer"), (31, "answer"))
    )
    assert (d.figures.duplicates, d.figures.answered_again) == (0, 1)


def test_a_kill_explains_no_more_answers_than_its_life_had() -> None:
    d = day(kills=(12,))
    d.count_help_answered_again(
        1, chat((10, "help"), (11, "answer"), (30, "answer"), (31, "answer"))
    )
    assert (d.figures.duplicates, d.figures.answered_again) == (1, 1)


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
