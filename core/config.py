"""Settings: `config.toml` defaults, overridden by `TIMEBANK_*` environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.languages import LANGUAGES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
OFFICIAL_API_URL = "https://api.telegram.org"


class ConfigError(Exception):
    """Configuration that cannot work; its message is one line meant for the operator."""


def config_file() -> Path:
    explicit = os.environ.get("TIMEBANK_CONFIG")
    if explicit:
        return Path(explicit)
    local = Path.cwd() / "config.toml"
    return local if local.exists() else PROJECT_ROOT / "config.toml"


def _check_http_url(value: str, name: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIMEBANK_", extra="ignore")

    telegram_token: SecretStr = SecretStr("")
    telegram_api_url: str = OFFICIAL_API_URL
    database_url: str = "sqlite:///timebank.db"
    redis_url: str = ""
    coordinators: Annotated[list[int], NoDecode] = Field(default_factory=list)
    default_language: str = "en"
    webhook_url: str = ""
    webhook_secret: SecretStr = SecretStr("")
    webhook_host: str = "0.0.0.0"
    webhook_port: int = 8081
    # Retention (core.retention), in days. Telegram redelivers an update for up to a day.
    keep_processed_updates_days: int = Field(default=2, ge=2)
    keep_sent_messages_days: int = Field(default=30, ge=1)
    keep_conversations_days: int = Field(default=30, ge=1)
    keep_voice_days: int = Field(default=30, ge=1)
    demo_port: int = 8080
    # The bot's own web server (dashboard Mini App, live screens). With a webhook it is the
    # webhook's server; in polling mode the bot starts it on web_host:web_port.
    web_host: str = "0.0.0.0"
    web_port: int = 8082
    web_public_url: str = ""
    # How old a Mini App's initData may be before the dashboard asks to open it again.
    web_init_data_max_age: int = Field(default=24 * 3600, ge=60)
    log_level: str = "INFO"
    # Flood protection (bot.flood): a sender's updates beyond `flood_burst` at once, then
    # `flood_burst / flood_seconds` a second, are dropped (0 turns it off). A person taps
    # a few times a second at most; a script sending 50 a second is slowed to that pace.
    flood_burst: int = Field(default=30, ge=0)
    flood_seconds: float = Field(default=6.0, gt=0)
    # Webhook requests with a wrong secret token: logged at most this many a minute.
    refused_webhook_logs_per_minute: int = Field(default=6, ge=1)
    max_open_orders: int = Field(default=3, ge=1)
    sweep_seconds: int = Field(default=30, ge=0)
    # Telegram's paid broadcasts: up to 1,000 messages a second, each paid in Stars.
    allow_paid_broadcast: bool = False
    paid_broadcast_rate: float = Field(default=1000.0, gt=0, le=1000)
    # Messages a second the bot sends overall, replies included (bot.pace): under Telegram's
    # 30. Higher only where Telegram allows it, or to measure the bot's own path (bench.e2e).
    send_rate: float = Field(default=29.0, gt=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_file()),
        )

    @field_validator("coordinators", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return _check_http_url(value, "TIMEBANK_TELEGRAM_API_URL")

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str) -> str:
        return _check_http_url(value, "TIMEBANK_WEBHOOK_URL") if value else value

    @field_validator("web_public_url")
    @classmethod
    def _web_public_url(cls, value: str) -> str:
        return _check_http_url(value, "TIMEBANK_WEB_PUBLIC_URL") if value else value

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(
                f"TIMEBANK_DEFAULT_LANGUAGE must be one of {', '.join(LANGUAGES)}, got {value!r}"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return async_database_url(value)

    @property
    def token(self) -> str:
        return self.telegram_token.get_secret_value().strip()


def async_database_url(url: str) -> str:
    """Accept the plain URLs people write and pick the async driver for them."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(f"TIMEBANK_DATABASE_URL is not a database URL: {url!r}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend == "postgresql":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    else:
        raise ValueError(f"TIMEBANK_DATABASE_URL must be SQLite or PostgreSQL, got {backend!r}")
    return parsed.render_as_string(hide_password=False)


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning any problem into a one-line ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        raise ConfigError(f"configuration error ({where}): {message}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"configuration error: {exc}") from None
