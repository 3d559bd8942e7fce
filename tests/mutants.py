"""The one-line mutation check: plant a realistic one-line bug, run the test meant to catch
it, put the line back. A test that still passes with its bug planted cannot fail.

    .venv/bin/python -m tests.mutants            # every mutant
    .venv/bin/python -m tests.mutants csv-words  # those named

Each mutant names a file, one line of it as it is and as the bug would have it, and the
tests that must fail. The file is restored whatever happens (Ctrl-C included). A mutant
whose line is no longer in its file is reported as stale: the code moved on, so write the
row again. Run on a clean work tree: the planted line is never meant to be committed.
Exit status: 0 when every mutant is caught, 1 otherwise.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    line: str
    bug: str
    tests: tuple[str, ...]


MUTANTS = (
    Mutant(
        "an-expired-requests-alerts-keep-their-buttons",
        "core/nudges.py",
        "        await close_alerts(session, order)\n",
        "",
        (
            "tests/unit/test_coordination.py::test_when_a_request_expires_its_alerts_lose_their_buttons",
        ),
    ),
    Mutant(
        "a-nudge-shows-the-address",
        "bot/handlers/helping/notices.py",
        "    details = ui.summary(f)\n",
        "    details = [*ui.summary(f), ui.place_words(f)]\n",
        ("tests/bot/test_visibility.py",),
    ),
    Mutant(
        "any-coordinator-sees-any-order",
        "core/orders.py",
        "return viewer.is_coordinator and viewer.branch_id == order.branch_id",
        "return viewer.is_coordinator",
        ("tests/bot/test_authorization.py::test_authorization_matrix",),
    ),
    Mutant(
        "dashboard-serves-another-branch",
        "bot/web/auth.py",
        "if branch_id is not None and branch_id != member.branch_id:",
        "if branch_id is not None and not member.is_coordinator:",
        ("tests/bot/test_authorization.py::test_authorization_matrix",),
    ),
    Mutant(
        "matching-forgets-the-asker",
        "core/matching.py",
        "excluded=(order.requester_id, order.beneficiary_id),",
        "excluded=(order.beneficiary_id,),",
        ("tests/unit/test_matching_askers.py",),
    ),
    Mutant(
        "any-link-lets-a-proxy-ask",
        "core/family.py",
        "            FamilyLink.relative_id == proxy.id,\n",
        "",
        ("tests/unit/test_orders.py::test_a_link_with_a_third_person_lends_an_outsider_nothing",),
    ),
    Mutant(
        "pool-help-hidden-from-members-with-an-account",
        "core/statements.py",
        "    return ledger.Balance(account_id, balance, held, limit), bool(paid)\n",
        "    return ledger.Balance(account_id, balance, held, limit), False\n",
        (
            "tests/unit/test_statements.py::test_pool_help_is_listed_for_a_member_with_an_account_too",
        ),
    ),
    Mutant(
        "csv-balance-words-show-the-amount",
        "core/statements.py",
        "            duration(row.balance_after, gettext),\n",
        "            duration(row.amount, gettext),\n",
        ("tests/unit/test_statements.py::test_csv_round_trips_with_a_byte_order_mark",),
    ),
    Mutant(
        "spent-this-year-changes-sign",
        "core/statements.py",
        "return -line.amount if line.kind in spending and line.amount < 0 else 0",
        "return line.amount if line.kind in spending and line.amount < 0 else 0",
        ("tests/unit/test_statements_year.py",),
    ),
    Mutant(
        "pdf-spent-this-year-changes-sign",
        "core/statements.py",
        "duration(summary.spent_this_year, gettext)),",
        "duration(-summary.spent_this_year, gettext)),",
        (
            "tests/unit/test_statements_year.py::test_the_pdf_shows_the_years_figures_each_as_itself",
        ),
    ),
    Mutant(
        "chat-page-swaps-earned-and-spent",
        "bot/handlers/passbook/views.py",
        "earned=hours(summary.earned_this_year), spent=hours(summary.spent_this_year)",
        "earned=hours(summary.spent_this_year), spent=hours(summary.earned_this_year)",
        ("tests/bot/test_passbook_year.py",),
    ),
    Mutant(
        "redact-returns-its-input",
        "core/logs.py",
        "def redact(text: str) -> str:\n",
        "def redact(text: str) -> str:\n    return text\n",
        ("tests/unit/test_logs.py",),
    ),
    Mutant(
        "log-message-not-redacted",
        "core/logs.py",
        '"event": redact(record.getMessage()),',
        '"event": record.getMessage(),',
        ("tests/unit/test_logs.py::test_a_phone_number_in_the_message_itself_is_masked",),
    ),
    Mutant(
        "every-update-logs-its-text",
        "bot/middlewares.py",
        'log_event(log, "update", kind=',
        'log_event(log, "update", text=str(getattr(event_, "message", None)), kind=',
        ("tests/bot/test_log_audit.py",),
    ),
    Mutant(
        "retention-forgets-messages-of-open-requests",
        "core/retention.py",
        "            ~about_an_open_request,\n",
        "",
        (
            "tests/unit/test_retention.py::test_each_kind_is_forgotten_after_its_period_and_only_then",
        ),
    ),
    Mutant(
        "restore-overwrites-a-database-with-rows",
        "core/backup.py",
        "if exists_now and not force and not asyncio.run(is_empty(rendered)):",
        "if exists_now and force and not asyncio.run(is_empty(rendered)):",
        ("tests/ledger/test_ledger_backup.py",),
    ),
    Mutant(
        "rewards-take-the-overdraft-anyway",
        "core/rewards/hot_path.py",
        '(bindparam("overdraw", type_=Boolean()), accounts.c.overdraft_limit), else_=literal(0)',
        '(bindparam("overdraw", type_=Boolean()), accounts.c.overdraft_limit),'
        " else_=accounts.c.overdraft_limit",
        (
            "tests/rewards/test_redemption.py::test_rewards_use_the_overdraft_only_where_the_branch_allows",
        ),
    ),
    Mutant(
        "counter-shows-the-full-name",
        "core/rewards/redemption.py",
        "member_first_name=first_name(facts.member_name),",
        "member_first_name=facts.member_name,",
        ("tests/rewards/test_redemption.py",),
    ),
    Mutant(
        "address-opening-logs-the-address",
        "core/member_care.py",
        "had_address=member.address is not None,",
        "had_address=member.address,",
        (
            "tests/web/test_dashboard_actions.py::test_the_address_only_when_opened_and_the_opening_logged",
        ),
    ),
    Mutant(
        "digest-before-the-chosen-hour",
        "core/digests.py",
        "return local.weekday() > 0 or local.hour >= hour",
        "return True",
        ("tests/unit/test_digests.py::test_once_a_week_at_the_chosen_hour_across_restarts",),
    ),
    Mutant(
        "digest-once-ever-not-once-a-week",
        "core/digests.py",
        'return f"digest:{member_id}:{year}-W{week:02d}"',
        'return f"digest:{member_id}"',
        ("tests/unit/test_digests.py::test_once_a_week_at_the_chosen_hour_across_restarts",),
    ),
    Mutant(
        "near-me-shows-every-kind-of-help",
        "core/nearby.py",
        "            Order.category_id.in_(skills),\n",
        "",
        ("tests/unit/test_nearby.py::test_only_requests_a_volunteer_could_take_nearest_first",),
    ),
    Mutant(
        "near-me-forgets-when-the-volunteer-is-free",
        "core/nearby.py",
        "        if not _free_then(profile.availability, need.at, need.time_zone):",
        "        if False:",
        ("tests/unit/test_nearby.py::test_only_requests_a_volunteer_could_take_nearest_first",),
    ),
    Mutant(
        "near-me-shows-the-description-unescaped",
        "bot/handlers/nearby/views.py",
        'lines.append(f"    💬 {escape(order.description[:120])}")',
        'lines.append(f"    💬 {order.description[:120]}")',
        ("tests/bot/test_nearby.py::test_a_volunteer_takes_a_request_from_near_me[en]",),
    ),
    Mutant(
        "a-handed-over-parking-time-is-bookable-again",
        "core/rewards/parking.py",
        "            ParkingBooking.status != ParkingBookingStatus.CANCELLED,\n"
        "            ParkingBooking.starts_at < ends_at,",
        "            ParkingBooking.status == ParkingBookingStatus.BOOKED,\n"
        "            ParkingBooking.starts_at < ends_at,",
        ("tests/bot/test_parking.py",),
    ),
    Mutant(
        "market-view-shows-a-name-unescaped",
        "bot/handlers/market/views.py",
        "return escape(localized(dict(names), language()))",
        "return localized(dict(names), language())",
        ("tests/unit/test_market_views.py",),
    ),
    Mutant(
        "market-report-button-for-any-coordinator",
        "bot/handlers/market/handlers.py",
        "coordinator = view.branch_id in coordinator_branches(member)",
        "coordinator = member.is_coordinator",
        ("tests/bot/test_market.py::test_book_a_haircut_check_in_and_report[en]",),
    ),
    Mutant(
        "an-edit-from-the-review-walks-on",
        "core/asking.py",
        'if draft.get("to_review") or answer not in PATH or answer == PATH[-1]:',
        "if answer not in PATH or answer == PATH[-1]:",
        ("tests/unit/test_asking.py",),
    ),
    Mutant(
        "a-passed-one-tap-time-is-taken",
        "core/asking.py",
        "    schedule.check(when, time_zone, now)\n    return when\n\n\ndef quick_times_open",
        "    return when\n\n\ndef quick_times_open",
        ("tests/unit/test_asking.py",),
    ),
    Mutant(
        "neighbours-matched-whatever-the-branch-says",
        "core/matching.py",
        "    if branch is None or not branch.match_neighbours:\n",
        "    if branch is None:\n",
        (
            "tests/unit/test_branches.py::test_matching_reaches_neighbours_only_when_the_branch_allows_it",
        ),
    ),
    Mutant(
        "a-coordinator-switches-to-any-branch",
        "core/coordinators.py",
        "branch_id in await coordinated_branches(session, coordinator)",
        "coordinator.is_coordinator",
        ("tests/unit/test_branches.py",),
    ),
    Mutant(
        "a-read-only-update-skips-the-commit-after-reading-through-the-session",
        "bot/middlewares.py",
        "        if not wrote and not transaction_begun(conn):\n",
        "        if not wrote:\n",
        (
            "tests/bot/test_lean_update_path.py"
            "::test_an_update_that_read_through_the_session_still_commits",
        ),
    ),
    Mutant(
        "a-sqlite-transaction-taken-for-not-begun",
        "core/db.py",
        "        return bool(_sqlite3(raw).in_transaction)\n",
        "        return False\n",
        ("tests/unit/test_db_begun.py",),
    ),
    Mutant(
        "a-cached-member-shares-its-json-with-the-cache",
        "bot/lookups.py",
        "            (name, value if type(value) in _IMMUTABLE else copy.deepcopy(value))\n",
        "            (name, value)\n",
        ("tests/bot/test_lean_update_path.py",),
    ),
    Mutant(
        "a-refusal-after-a-write-keeps-the-write",
        "bot/kit/guards.py",
        "        if await wrote_since(session, mark, conn):\n",
        "        if False:\n",
        (
            "tests/bot/test_lean_update_path.py"
            "::test_a_refusal_undoes_the_handler_s_writes_only_and_still_answers",
            "tests/bot/test_lean_update_path.py"
            "::test_a_wizard_step_takes_no_savepoint_unless_refused_after_a_write",
        ),
    ),
)


def check(mutant: Mutant) -> str:
    """'caught', 'MISSED' or 'stale'."""
    path = ROOT / mutant.path
    original = path.read_text(encoding="utf-8")
    if original.count(mutant.line) != 1:
        return "stale"
    try:
        path.write_text(original.replace(mutant.line, mutant.bug), encoding="utf-8")
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *mutant.tests],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
    finally:
        path.write_text(original, encoding="utf-8")
    # 1: tests failed. Anything else (0 passed, 2+ could not run) is no catch.
    return "caught" if run.returncode == 1 else "MISSED"


def main(names: list[str]) -> int:
    chosen = [m for m in MUTANTS if not names or m.name in names]
    unknown = set(names) - {m.name for m in MUTANTS}
    if unknown:
        print(f"no such mutant: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    results = []
    for mutant in chosen:
        started = time.monotonic()
        result = check(mutant)
        results.append(result)
        print(f"{result:7} {mutant.name} ({time.monotonic() - started:.0f} s)", flush=True)
    caught = results.count("caught")
    print(f"{caught} of {len(results)} mutants caught")
    return 0 if caught == len(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
