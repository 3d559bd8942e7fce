"""A local Telegram Bot API server ("sandbox") for tests and demos.

``SandboxServer`` serves ``/bot<token>/<method>`` like Telegram, plus a JSON control API under
``/sandbox/`` that plays the users; ``SandboxClient`` and ``Persona`` drive it from tests.
"""

from .client import SandboxClient
from .errors import ApiError
from .faults import Fault
from .methods import Settings
from .persona import Persona
from .ratelimit import RateLimits
from .server import SandboxServer

__all__ = [
    "ApiError",
    "Fault",
    "Persona",
    "RateLimits",
    "SandboxClient",
    "SandboxServer",
    "Settings",
]
