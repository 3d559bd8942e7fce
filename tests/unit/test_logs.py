from __future__ import annotations

import json
import logging
import sqlite3

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from core.logs import JsonFormatter, log_event, member_id_var, redact, update_id_var

PHONE = "+8613800138000"


@pytest.mark.parametrize(
    "written", [PHONE, "13800138000", "+86 138 0013 8000", "138-0013-8000", "tel:+8613800138000"]
)
def test_phone_numbers_are_masked_however_written(written: str) -> None:
    masked = redact(f"called {written} today")
    assert "".join(ch for ch in masked if ch.isdigit()) == "00"
    assert masked == "called tel:…00 today" if written.startswith("tel:") else "called …00 today"


def test_short_numbers_are_left_alone() -> None:
    assert redact("order 12 for 30 min at 10:30") == "order 12 for 30 min at 10:30"


def test_a_bot_token_keeps_only_the_bot_id() -> None:
    said = redact("POST http://127.0.0.1:8081/bot424242:AAF3kq-z9_TEST-timebank/getUpdates failed")
    assert "AAF3kq" not in said and "424242:…" in said


def _format(caplog, logger: logging.Logger, message: str, **fields: object) -> dict:
    with caplog.at_level(logging.INFO, logger=logger.name):
        log_event(logger, message, **fields)
    return json.loads(JsonFormatter().format(caplog.records[-1]))


def test_one_json_event_per_line_with_context(caplog) -> None:
    logger = logging.getLogger("test.logs")
    update_token, member_token = update_id_var.set(7), member_id_var.set(3)
    try:
        with caplog.at_level(logging.INFO, logger="test.logs"):
            log_event(logger, "contact saved", phone=PHONE)
        line = JsonFormatter().format(caplog.records[-1])
    finally:
        update_id_var.reset(update_token)
        member_id_var.reset(member_token)
    event = json.loads(line)
    assert "\n" not in line
    assert (event["event"], event["update_id"], event["member_id"]) == ("contact saved", 7, 3)
    assert event["phone"] == "…00"


def test_a_phone_number_in_the_message_itself_is_masked(caplog) -> None:
    event = _format(caplog, logging.getLogger("test.logs"), f"contact {PHONE} saved")
    assert event["event"] == "contact …00 saved"


def test_a_phone_number_nested_in_a_field_is_masked(caplog) -> None:
    event = _format(
        caplog, logging.getLogger("test.logs"), "contacts", found={"mine": [PHONE]}, raw=(PHONE,)
    )
    assert event["found"] == {"mine": ["…00"]} and event["raw"] == ["…00"]


def test_a_database_error_keeps_the_statement_and_drops_its_values(caplog) -> None:
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE homes (address TEXT UNIQUE)"))
        connection.execute(text("INSERT INTO homes VALUES ('12 Luoshan Road, flat 3')"))
    logger = logging.getLogger("test.logs")
    with caplog.at_level(logging.ERROR, logger="test.logs"):
        try:
            with engine.begin() as connection:
                connection.execute(
                    text("INSERT INTO homes VALUES (:address)"),
                    {"address": "12 Luoshan Road, flat 3"},
                )
        except IntegrityError as error:
            assert isinstance(error.orig, sqlite3.IntegrityError)
            logger.exception("insert failed: %s", error)
    line = JsonFormatter().format(caplog.records[-1])
    assert "Luoshan" not in line
    assert "INSERT INTO homes" in line and "[parameters hidden]" in line
