"""Screens made once per language (`bot.kit.cache`): the same as made afresh, in each language."""

from __future__ import annotations

from types import SimpleNamespace

from bot.commands import command_list, coordinator_commands
from bot.handlers.account.handlers import help_text
from bot.i18n import create_i18n
from bot.kit.cache import per_language
from bot.kit.keyboards import continue_signup, main_menu
from core.languages import LANGUAGES


def test_each_language_gets_its_own_screens_and_each_is_made_once() -> None:
    i18n = create_i18n("en")
    coordinator = SimpleNamespace(is_coordinator=True)
    resident = SimpleNamespace(is_coordinator=False)
    helps = {}
    for language in LANGUAGES:
        with i18n.context(), i18n.use_locale(language):
            helps[language] = (help_text(resident), help_text(coordinator), help_text(None))
            assert main_menu() is main_menu()
            assert continue_signup() is continue_signup()
            assert help_text(coordinator) is helps[language][1]
            commands = command_list()
            assert commands == command_list() and commands is not command_list()
            assert coordinator_commands()[0].command == "waiting"
    assert len({texts[0] for texts in helps.values()}) == len(LANGUAGES)
    for resident_help, coordinator_help, stranger_help in helps.values():
        assert resident_help == stranger_help
        assert coordinator_help.startswith(resident_help) and coordinator_help != resident_help
    with i18n.context(), i18n.use_locale("ko"):
        korean_menu = main_menu()
    with i18n.context(), i18n.use_locale("en"):
        english_menu = main_menu()
    assert korean_menu.keyboard[0][0].text != english_menu.keyboard[0][0].text


def test_outside_a_language_context_it_is_made_each_time() -> None:
    made = []

    @per_language
    def screen() -> list[int]:
        made.append(1)
        return [len(made)]

    assert screen() == [1] and screen() == [2]
    i18n = create_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        assert screen() is screen()
    assert len(made) == 3
