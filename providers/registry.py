"""Provider registry: a short key ("tele") maps to its adapter class.

Model choices come from here, so adding a provider is one module and one line below.
"""

from __future__ import annotations

from functools import cache

from providers.bansky import BanskyProvider
from providers.base import Provider
from providers.sandbox import SandboxProvider
from providers.tele import TeleProvider

PROVIDERS: dict[str, type[Provider]] = {
    TeleProvider.key: TeleProvider,
    BanskyProvider.key: BanskyProvider,
    SandboxProvider.key: SandboxProvider,
}

SANDBOX = SandboxProvider.key


def provider_choices() -> list[tuple[str, str]]:
    """Return (key, label) pairs for model and form choices."""
    return [(key, cls.label) for key, cls in PROVIDERS.items()]


@cache
def get_provider(key: str) -> Provider:
    """Return the adapter instance for `key`; raise KeyError for an unknown key."""
    return PROVIDERS[key]()
