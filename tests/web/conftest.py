"""The bot's web server on a test client, with Luoshan's known November (tests.figures)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.web.server import create_web_app
from core.config import Settings, load_settings
from sandbox.webapp import sign_init_data
from tests.figures import seed_november

TOKEN = "123456:dashboard-test-token"
COORDINATOR = {"id": 900003, "first_name": "Li", "last_name": "Wei", "language_code": "en"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(
        database_url=database_url, telegram_token=TOKEN, web_init_data_max_age=3600
    )


@pytest.fixture
async def seeded(sessions) -> dict[str, int]:
    return await seed_november(sessions)


@pytest.fixture
async def client(settings: Settings, engine: AsyncEngine, seeded) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_web_app(settings, engine))) as test_client:
        yield test_client


def init_data(user: dict = COORDINATOR, *, token: str = TOKEN, age_s: int = 0) -> str:
    return sign_init_data(token, user, auth_date=int(time.time()) - age_s)


def auth(data: str) -> dict[str, str]:
    return {"Authorization": f"tma {data}"}
