"""The `timebank` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable

from core.config import ConfigError, Settings, load_settings


class Exit(Exception):
    """Stop with one line on stderr and this exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _database_label(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def ready_database(settings: Settings, *, wait: bool = False) -> None:
    """Check the database answers, then bring its schema to head.

    With `wait` (`timebank run`, which a service manager may start before its database), a
    connection refused or lost, even midway through the migrations, is tried again the way
    the bot waits for the Bot API: one log line per failed attempt, then a longer wait. Any
    other failure (a wrong password, a migration the database rejects) stops with one line.
    """
    import time

    from core.db import is_connection_error
    from core.logs import log_event

    delay = attempt = 0
    while True:
        attempt += 1
        try:
            _check_and_upgrade(settings)
            return
        except Exception as exc:
            if not wait or not is_connection_error(exc):
                raise _database_exit(settings, exc) from None
            from bot.runner import FIRST_DELAY, MAX_DELAY

            delay = min(delay * 2, MAX_DELAY) if delay else FIRST_DELAY
            log_event(
                logging.getLogger("timebank.cli"),
                "database unreachable, retrying",
                logging.WARNING,
                attempt=attempt,
                delay=delay,
                reason=_reason(exc)[:200],
            )
        time.sleep(delay)


class _MigrationFailed(Exception):
    """The database answered but its migrations failed."""


def _check_and_upgrade(settings: Settings) -> None:
    from core import migrate
    from core.db import check_connection, create_engine

    async def check() -> None:
        engine = create_engine(settings.database_url)
        try:
            await check_connection(engine)
        finally:
            await engine.dispose()

    asyncio.run(check())
    try:
        migrate.upgrade(settings.database_url)
    except Exception as exc:
        raise _MigrationFailed() from exc


def _reason(exc: BaseException) -> str:
    cause = exc.__cause__ if isinstance(exc, _MigrationFailed) else exc
    assert cause is not None
    text = str(getattr(cause, "orig", None) or cause).strip() or type(cause).__name__
    return text.splitlines()[0]


def _database_exit(settings: Settings, exc: Exception) -> Exit:
    from core.db import is_connection_error

    label = _database_label(settings.database_url)
    if isinstance(exc, _MigrationFailed) and not is_connection_error(exc):
        return Exit(f"the migrations of the database {label} failed: {_reason(exc)}")
    return Exit(f"cannot reach the database {label}: {_reason(exc)}")


def cmd_run(args: argparse.Namespace) -> None:
    settings = load_settings()
    if not settings.token:
        raise Exit(
            "no Telegram token: set TIMEBANK_TELEGRAM_TOKEN (from @BotFather), "
            "or try the bot locally with `timebank demo`"
        )
    if args.webhook and not settings.webhook_url:
        raise Exit("webhook mode needs TIMEBANK_WEBHOOK_URL, the public HTTPS address of the bot")
    if args.webhook and not settings.webhook_secret.get_secret_value():
        raise Exit(
            "webhook mode needs TIMEBANK_WEBHOOK_SECRET, a random secret Telegram sends with "
            "each update (without it anyone could post updates to the bot)"
        )
    if args.workers < 1:
        raise Exit("--workers must be 1 or more")
    if args.workers > 1:
        if not args.webhook:
            raise Exit("several workers need --webhook: long polling takes one reader")
        if not settings.database_url.startswith("postgresql") or not settings.redis_url:
            raise Exit(
                "several workers need PostgreSQL (TIMEBANK_DATABASE_URL) and Redis "
                "(TIMEBANK_REDIS_URL), which they share"
            )
    from core.logs import setup_logging

    setup_logging(settings.log_level)
    ready_database(settings, wait=True)
    from bot import runner

    if args.workers > 1:
        from bot.workers import run_workers

        code = run_workers(settings, args.workers)
        if code:
            raise Exit("the Bot API refused the token (see the log)", code)
        return
    try:
        asyncio.run(runner.serve(settings, webhook=args.webhook))
    except runner.ApiRefused as error:
        raise Exit(
            f"the Bot API at {settings.telegram_api_url} refused the token: {error}"
        ) from None


def cmd_db(args: argparse.Namespace) -> None:
    from core import migrate

    settings = load_settings()
    if args.action == "upgrade":
        ready_database(settings)
        print("database is at the latest revision")
    elif args.action == "downgrade":
        migrate.downgrade(settings.database_url, args.target or "base")
    elif args.action in ("backup", "restore"):
        backup_or_restore(settings, args)
    else:
        migrate.current(settings.database_url)


def backup_or_restore(settings: Settings, args: argparse.Namespace) -> None:
    from pathlib import Path

    from core.backup import BackupError, backup, restore

    if not args.target:
        raise Exit(f"db {args.action} needs a file, e.g. timebank db {args.action} timebank.backup")
    try:
        if args.action == "backup":
            done = backup(settings.database_url, Path(args.target))
            print(
                f"backup written to {done.path} ({done.size} bytes), checked: {done.report.summary}"
            )
            report = done.report
        else:
            report = restore(settings.database_url, Path(args.target), force=args.force)
            print(f"restored from {args.target}; {report.summary}")
    except BackupError as error:
        raise Exit(f"db {args.action}: {error}") from None
    if not report.ok:
        raise SystemExit(1)


def cmd_seed_demo(_args: argparse.Namespace) -> None:
    from core.community_demo import seed_community_demo
    from core.db import create_engine, session_factory, transaction
    from core.demo import ready_the_journey, seed_demo

    settings = load_settings()
    ready_database(settings)

    async def seed() -> dict[str, int]:
        engine = create_engine(settings.database_url)
        try:
            async with transaction(session_factory(engine), write=True) as session:
                added = await seed_demo(session) | await ready_the_journey(session)
                return added | await seed_community_demo(session)
        finally:
            await engine.dispose()

    added = asyncio.run(seed())
    print("demo data ready: " + ", ".join(f"{n} {what} added" for what, n in added.items()))


def cmd_ledger(args: argparse.Namespace) -> None:
    from core.ledger import main_verify

    if args.action == "fund-pool":
        fund_pool(args)
        return
    if args.action == "policy":
        branch_policy(args)
        return
    code = main_verify(load_settings().database_url)
    if code:
        raise SystemExit(code)


def fund_pool(args: argparse.Namespace) -> None:
    import hashlib
    from datetime import date

    from core import coordination
    from core.db import create_engine, session_factory
    from core.errors import DomainError
    from core.ledger import atomically

    if not args.branch or args.minutes is None or not args.reason:
        raise Exit("fund-pool needs a branch code, the minutes and --reason")
    # Without --key, running the same command again the same day records it once.
    digest = hashlib.sha256(args.reason.encode()).hexdigest()[:12]
    key = args.key or f"fund-pool:{args.branch}:{date.today()}:{args.minutes}:{digest}"
    settings = load_settings()

    async def fund() -> tuple[bool, int]:
        engine = create_engine(settings.database_url)
        try:
            posting, free = await atomically(
                session_factory(engine),
                lambda s: coordination.fund_pool(
                    s, branch_code=args.branch, minutes=args.minutes, reason=args.reason, key=key
                ),
            )
            return posting.replayed, free
        finally:
            await engine.dispose()

    try:
        replayed, free = asyncio.run(fund())
    except DomainError as error:
        raise Exit(f"{args.branch}: {error}") from None
    said = "already recorded" if replayed else f"{args.minutes} minutes added"
    print(f"pool of {args.branch}: {said}; it can now cover {free} minutes")


def branch_policy(args: argparse.Namespace) -> None:
    from core import catalog, ledger
    from core.db import create_engine, session_factory
    from core.errors import DomainError, NotFound

    if not args.branch:
        raise Exit("policy needs a branch code")
    changes = {
        "welcome_minutes": args.welcome,
        "member_overdraft_limit": args.member_overdraft,
        "resident_overdraft_limit": args.resident_overdraft,
    }
    changes = {name: minutes for name, minutes in changes.items() if minutes is not None}
    settings = load_settings()

    async def work(session) -> ledger.BranchPolicy:
        branch = await catalog.branch_by_code(session, args.branch)
        if branch is None:
            raise NotFound()
        if not changes:
            return await ledger.branch_policy(session, branch.id)
        operator = ledger.Actor(is_coordinator=True)
        return await ledger.set_branch_policy(session, branch.id, actor=operator, **changes)

    async def run() -> ledger.BranchPolicy:
        engine = create_engine(settings.database_url)
        try:
            return await ledger.atomically(session_factory(engine), work)
        finally:
            await engine.dispose()

    try:
        policy = asyncio.run(run())
    except DomainError as error:
        raise Exit(f"{args.branch}: {error}") from None
    print(
        f"policy of {args.branch}: {policy.welcome_minutes} welcome minutes on joining; "
        f"members may go {policy.member_overdraft_limit} minutes below zero, "
        f"residents {policy.overdraft_limit(is_resident=True)}"
    )


def cmd_i18n(_args: argparse.Namespace) -> None:
    from bot.i18n import update_catalogs

    update_catalogs()
    print("catalogs extracted, updated and compiled")


def cmd_demo(args: argparse.Namespace) -> None:
    import os

    from bot.demo import DEMO_DATABASE, demo_log_level, run_demo
    from core.logs import setup_logging

    overrides = {} if "TIMEBANK_DATABASE_URL" in os.environ else {"database_url": DEMO_DATABASE}
    settings = load_settings(**overrides)
    setup_logging(demo_log_level(settings, os.environ))
    asyncio.run(run_demo(settings, args.port or settings.demo_port))


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="timebank", description="A community time bank on Telegram.")
    commands = top.add_subparsers(dest="command", required=True, metavar="command")

    def add(
        name: str, handler: Callable[[argparse.Namespace], None], text: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        sub.set_defaults(handler=handler)
        return sub

    run = add("run", cmd_run, "run the bot (long polling, or --webhook)")
    run.add_argument("--webhook", action="store_true", help="receive updates by webhook")
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        help="webhook worker processes sharing the port (needs PostgreSQL and Redis)",
    )
    db = add("db", cmd_db, "manage the database schema, back it up and restore it")
    db.add_argument("action", choices=["upgrade", "downgrade", "current", "backup", "restore"])
    db.add_argument(
        "target",
        nargs="?",
        help="downgrade: the revision (default base); backup, restore: the file",
    )
    db.add_argument(
        "--force", action="store_true", help="restore: replace a database that is not empty"
    )
    demo = add("demo", cmd_demo, "try the bot in a web chat, no token needed")
    demo.add_argument("--port", type=int, default=None, help="port of the demo page")
    ledger = add(
        "ledger",
        cmd_ledger,
        "check the time-credit ledger, add credit to a branch's pool, or show and set a "
        "branch's policy (welcome hours, overdrafts)",
    )
    ledger.add_argument("action", choices=["verify", "fund-pool", "policy"])
    ledger.add_argument(
        "branch", nargs="?", help="fund-pool, policy: the branch code, e.g. luoshan"
    )
    ledger.add_argument("minutes", nargs="?", type=int, help="fund-pool: minutes of credit")
    ledger.add_argument("--reason", help="fund-pool: where the credit comes from")
    ledger.add_argument(
        "--key", help="fund-pool: idempotency key (default: branch, day, amount, reason)"
    )
    ledger.add_argument("--welcome", type=int, help="policy: welcome minutes for new members")
    ledger.add_argument(
        "--member-overdraft", type=int, help="policy: minutes any member may go below zero"
    )
    ledger.add_argument(
        "--resident-overdraft", type=int, help="policy: minutes a resident may go below zero"
    )
    add("seed-demo", cmd_seed_demo, "add demo branches, categories and members")
    add("i18n", cmd_i18n, "extract, update and compile the translations")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.handler(args)
    except (ConfigError, Exit) as exc:
        print(f"timebank: {exc}", file=sys.stderr)
        return getattr(exc, "code", 2)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
