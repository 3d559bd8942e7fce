"""Typed inline-button payloads of classes.

aiogram rejects data that does not parse into these.
"""

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class ClassAction(StrEnum):
    VIEW = "v"  # a class's card (item: the class)
    ENROL = "e"  # a seat for myself (item: the class)
    CHILD = "k"  # a seat for a child: asks the name (item: the class)
    LEAVE = "x"  # give up a seat or a waiting place (item: the class, value: the enrolment)
    TEACHING = "t"  # the teacher's sessions
    ROLL = "r"  # the attendance screen (item: the session)
    TOGGLE = "g"  # tap a name (item: the session, value: the enrolment)
    SAVE = "s"  # save the attendance (item: the session)
    NEW = "n"  # start a new class


class ClassCb(CallbackData, prefix="cls"):
    action: ClassAction
    item: int = 0
    value: int = 0
