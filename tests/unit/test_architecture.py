"""Layering rules from the design: core knows nothing of Telegram or the sandbox."""

from __future__ import annotations

import ast

from core.config import PROJECT_ROOT

FORBIDDEN = {"aiogram", "telegram", "bot", "sandbox"}


def test_core_imports_no_adapter() -> None:
    offenders = []
    for path in (PROJECT_ROOT / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
