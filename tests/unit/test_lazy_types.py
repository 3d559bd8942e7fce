"""aiogram's Telegram types built on first use (bot.lazy_types): the import-time rebuilds are
set aside, and every type, built later, is the type aiogram's own import would have built.

Each check runs in a fresh interpreter: this one has imported aiogram already."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Every aiogram type's fields and JSON schema (they show the resolved annotations), built through
# pydantic's own deferred build, i.e. the first validation of each type. (From inside a
# function: pydantic's deferred build looks a few frames up the stack, which a bot always
# has and a script's top level does not.)
SCHEMAS = """
import json, re, sys
from pydantic import BaseModel
from pydantic.errors import PydanticInvalidForJsonSchema
{prelude}
import aiogram.types as types

ADDRESS = re.compile(" at 0x[0-9a-f]+")


def schemas():
    found = {{}}
    for name in types.__all__:
        cls = getattr(types, name)
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            cls.__pydantic_validator__.validate_python  # builds a deferred type
            fields = {{f: ADDRESS.sub("", repr(i)) for f, i in cls.model_fields.items()}}
            try:
                found[name] = [fields, cls.model_json_schema()]
            except PydanticInvalidForJsonSchema:  # e.g. ErrorEvent's exception
                found[name] = [fields, None]
    return found


json.dump(schemas(), sys.stdout, sort_keys=True)
"""

UPDATE = {
    "update_id": 7,
    "callback_query": {
        "id": "1",
        "from": {"id": 5, "is_bot": False, "first_name": "A"},
        "chat_instance": "c",
        "data": "menu",
        "message": {
            "message_id": 9,
            "date": 1_700_000_000,
            "chat": {"id": 5, "type": "private"},
            "text": "hi",
            "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "b"}]]},
            "reply_to_message": {
                "message_id": 8,
                "date": 1_700_000_000,
                "chat": {"id": 5, "type": "private"},
                "text": "earlier",
            },
        },
    },
}

PARSE = """
import json, sys
{prelude}
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Update



def parsed():
    update = Update.model_validate(json.loads(sys.argv[1]))
    button = InlineKeyboardButton(text="a", callback_data="b")
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[button]])
    return [
        update.model_dump(mode="json", exclude_none=True),
        type(update.callback_query.message.reply_to_message).__name__,
        keyboard.model_dump(exclude_none=True),
    ]


print(json.dumps(parsed(), sort_keys=True))
"""

LAZY = "import bot"


def _run(script: str, *args: str) -> str:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_importing_the_bot_defers_the_aiogram_types() -> None:
    out = _run(
        LAZY
        + "\nfrom bot.lazy_types import deferred_types\nfrom aiogram.types import Message, Update\n"
        + "built = Update.__pydantic_complete__, Message.__pydantic_complete__\n"
        + "print(len(deferred_types()), *built)"
    )
    count, update_built, message_built = out.split()
    # If this fails, aiogram no longer rebuilds its types at import the way bot.lazy_types
    # expects: the bot still works, with every type built at import (~100 MB more).
    assert int(count) > 300
    assert (update_built, message_built) == ("False", "False")


def test_deferred_types_build_as_aiogram_builds_them() -> None:
    lazy = json.loads(_run(SCHEMAS.format(prelude=LAZY)))
    eager = json.loads(_run(SCHEMAS.format(prelude="")))
    assert len(lazy) > 300
    assert lazy == eager


def test_an_update_parses_the_same_way() -> None:
    payload = json.dumps(UPDATE)
    lazy = json.loads(_run(PARSE.format(prelude=LAZY), payload))
    eager = json.loads(_run(PARSE.format(prelude=""), payload))
    assert lazy == eager
    assert lazy[1] == "Message"


def test_start_up_builds_the_update_types_before_the_first_member_waits() -> None:
    out = _run(
        LAZY
        + "\nfrom aiogram.types import Update\nfrom bot.runner import freeze_start_up_heap\n"
        + "freeze_start_up_heap()\nprint(Update.__pydantic_complete__)"
    )
    assert out.split() == ["True"]


def test_a_type_first_used_beside_a_name_of_its_own_keeps_aiogram_s_annotations() -> None:
    """Built on first use, a type resolves its annotations where it is first used; a local
    of that function must not stand in for one of aiogram's types."""
    out = _run(
        LAZY
        + "\nfrom aiogram.types import MessageEntity\n"
        + "def first_use():\n"
        + "    User = dict  # noqa\n"
        + "    MessageEntity(type='mention', offset=0, length=1)\n"
        + "    return MessageEntity.model_fields['user'].annotation\n"
        + "print(first_use())"
    )
    assert "aiogram.types.user.User" in out and "dict" not in out


def test_a_forked_worker_keeps_the_update_type_its_supervisor_built() -> None:
    out = _run(
        LAZY
        + "\nfrom aiogram.types import Update\nfrom bot.lazy_types import build_update_types\n"
        + "build_update_types()\nbuilt = Update.__pydantic_validator__\n"
        + "build_update_types()\nprint(Update.__pydantic_validator__ is built)"
    )
    assert out.split() == ["True"]
