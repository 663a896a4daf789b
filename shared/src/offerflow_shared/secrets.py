"""Lead credentials travel and rest encrypted: events and tables hold ``sealed:v1:<token>``, never the secret.

The status-api seals what publishers write; packaging, the one stage that must use a credential, unseals
it just before sending the test lead. The key is ``OFFERFLOW_SECRETS_KEY`` (a Fernet key), shared by those
two services only.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from offerflow_shared.offer_rules import SEALED_PREFIX, SECRET_PLACEHOLDER, map_secrets


class SecretUnavailable(Exception):
    """A sealed secret that cannot be opened here (no key, or another key)."""


def new_key() -> str:
    return Fernet.generate_key().decode()


class SecretBox:
    def __init__(self, key: str | None) -> None:
        self._fernet = Fernet(key.encode()) if key else None

    def seal(self, definition: dict[str, Any]) -> dict[str, Any]:
        """Encrypt every plain secret; already sealed ones stay as they are. Without a key, secrets are dropped
        to the placeholder, so they can never leak (publishing then asks for them again)."""

        def one(value: str) -> str:
            if value.startswith(SEALED_PREFIX) or value == SECRET_PLACEHOLDER:
                return value
            if self._fernet is None:
                return SECRET_PLACEHOLDER
            return SEALED_PREFIX + self._fernet.encrypt(value.encode()).decode()

        return map_secrets(definition, one)

    def unseal(self, definition: dict[str, Any]) -> dict[str, Any]:
        def one(value: str) -> str:
            if not value.startswith(SEALED_PREFIX):
                return value
            if self._fernet is None:
                raise SecretUnavailable("lead credentials are encrypted and this service has no OFFERFLOW_SECRETS_KEY")
            try:
                return self._fernet.decrypt(value.removeprefix(SEALED_PREFIX).encode()).decode()
            except InvalidToken as exc:
                raise SecretUnavailable("lead credentials were encrypted with another OFFERFLOW_SECRETS_KEY") from exc

        return map_secrets(definition, one)
