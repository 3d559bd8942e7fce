"""Hypothesis profiles. `ci` (the default) keeps each property test that builds a database
or drives the bot to a few seconds, so `./dev test` stays within CI's budget; `thorough`
(`HYPOTHESIS_PROFILE=thorough`) runs many more examples, for a change to matching, the
sandbox's parsers or the bot's update handling, or a quiet night."""

from __future__ import annotations

import os

from hypothesis import settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

settings.register_profile("ci", max_examples=100)
settings.register_profile("thorough", max_examples=1000)
settings.load_profile(PROFILE)


def examples(ci: int, thorough: int) -> int:
    """How many examples a costly property test runs under the profile in force."""
    return thorough if PROFILE == "thorough" else ci
