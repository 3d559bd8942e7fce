"""Import aiogram with its Telegram types built on first use instead of all at import.

aiogram's types set pydantic's `defer_build`, but `aiogram/types/__init__.py` then calls
`model_rebuild` on each of its ~440 types at import, to resolve the names their modules
import only under `TYPE_CHECKING`. Each type gets its own validator and serializer, and a
type inside the cycle around `Message` (reply_to_message, pinned_message, external replies…)
inlines that whole cycle again: ~100 MB of RSS per process, almost all of it for types a
bot never sees (`import aiogram` alone: 166 MB; with this module: ~62 MB).

`import_aiogram()` imports aiogram with those import-time rebuilds set aside, then puts the
names they were given into the types' own modules, where pydantic's deferred build looks
for them: a type is built, with the same annotations, the first time it is validated or
constructed. `Update` is built once with every type it contains (~1.4 MB).

This is a shim: for the duration of `import aiogram` it replaces pydantic's
`BaseModel.model_rebuild` (restored at once), and it relies on how aiogram's types module
calls it (with `_types_namespace`). tests/unit/test_lazy_types.py checks both ends: that the
rebuilds are still set aside (were aiogram to change that call, they run as before: more
memory, nothing else) and that every type built later has the fields and JSON schema
aiogram's own import gives it. Drop it once aiogram builds its types lazily itself
(aiogram issue #1513, "High memory consumption due to importing any object from aiogram").
"""

from __future__ import annotations

import re
import sys
from typing import Any

from pydantic import BaseModel

_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_set_aside: dict[type[BaseModel], dict[str, Any]] = {}


def import_aiogram() -> None:
    """Import aiogram, its types left to build on first use. Once per process, before
    anything else imports aiogram; later calls (or aiogram already imported) do nothing."""
    if "aiogram" in sys.modules:
        return
    original = BaseModel.__dict__["model_rebuild"]

    def set_aside(cls: type[BaseModel], **kwargs: Any) -> bool | None:
        namespace = kwargs.get("_types_namespace")
        if (
            set(kwargs) == {"_types_namespace"}
            and isinstance(namespace, dict)
            and cls.__module__.startswith("aiogram.types.")
            and cls.model_config.get("defer_build")
            and not cls.__pydantic_complete__
        ):
            _set_aside[cls] = namespace
            return None
        return original.__func__(cls, **kwargs)

    BaseModel.model_rebuild = classmethod(set_aside)  # type: ignore[method-assign,assignment]
    try:
        import aiogram  # noqa: F401
    finally:
        BaseModel.model_rebuild = original  # type: ignore[method-assign]
    for cls, namespace in _set_aside.items():
        # Ranked above the locals of whatever function first uses the type, which could
        # otherwise give a name of its own (`User = dict`) to the type's annotations.
        cls.__pydantic_parent_namespace__ = namespace
        module = vars(sys.modules[cls.__module__])
        for name in _annotation_names(cls):
            if name in namespace:
                module.setdefault(name, namespace[name])


def _annotation_names(cls: type) -> set[str]:
    """The identifiers in the annotations of `cls` and its bases (aiogram writes them as
    strings, `from __future__ import annotations`)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        for annotation in vars(klass).get("__annotations__", {}).values():
            names.update(_IDENTIFIER.findall(str(annotation)))
    return names


def build_update_types() -> None:
    """Build `Update` (with every type an update holds) now, at start-up, rather than while
    the first member waits for a reply (~0.2 s); in a supervisor, before its workers fork,
    so that they share it."""
    from aiogram.types import Update

    if not Update.__pydantic_complete__:  # a forked worker has its supervisor's
        Update.model_rebuild()


def deferred_types() -> list[type[BaseModel]]:
    """The aiogram types whose import-time rebuild was set aside (empty if it did not apply)."""
    return list(_set_aside)
