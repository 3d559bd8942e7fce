from __future__ import annotations

import json
import logging

from core.logs import JsonFormatter, log_event, member_id_var, redact, update_id_var


def test_phone_numbers_are_masked() -> None:
    assert "13800138000" not in redact("called +86 138 0013 8000 today")
    assert redact("order 12 for 30 min") == "order 12 for 30 min"


def test_one_json_event_per_line_with_context(caplog) -> None:
    logger = logging.getLogger("test.logs")
    update_token, member_token = update_id_var.set(7), member_id_var.set(3)
    try:
        with caplog.at_level(logging.INFO, logger="test.logs"):
            log_event(logger, "contact saved", phone="+8613800138000")
        line = JsonFormatter().format(caplog.records[-1])
    finally:
        update_id_var.reset(update_token)
        member_id_var.reset(member_token)
    event = json.loads(line)
    assert "\n" not in line
    assert (event["event"], event["update_id"], event["member_id"]) == ("contact saved", 7, 3)
    assert "13800138000" not in event["phone"]
