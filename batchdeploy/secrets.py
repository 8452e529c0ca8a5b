"""What counts as a secret, and the one place secrets are scrubbed from what batchdeploy prints.

Code registers a secret the moment it holds one (`register_secret`); `ui` passes every line it prints
through `redact`. This is the last line of defence, not the first: code must not put secrets in
messages to begin with.
"""

from __future__ import annotations

import re

MASK = "****"
# Key names that hold secrets: the configuration's own secret keys, and any name with these words.
_SECRET_KEYS = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"})
_SECRET_WORDS = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE|_KEY$|^AWS_ACCESS_KEY_ID$")
# Keys whose values are names of secrets, not secrets (BUILD_SECRETS=NPM_TOKEN lists what -b passes).
_NAMES_OF_SECRETS = frozenset({"BUILD_SECRETS", "SECRETS"})
# A password inside a URL: `postgresql://user:PASSWORD@host/db`, a pip or npm index with credentials.
URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:(?P<password>[^/\s@]+)@")
_SECRETS: set[str] = set()


def is_secret(key: str) -> bool:
    if key in _NAMES_OF_SECRETS:
        return False
    return key in _SECRET_KEYS or bool(_SECRET_WORDS.search(key))


def mask(value: str) -> str:
    return MASK if value else ""


def url_passwords(value: str) -> list[str]:
    """The passwords inside URLs in `value` (a secret by value, whatever its key is called)."""
    return [m.group("password") for m in URL_PASSWORD.finditer(value or "")]


def mask_url_passwords(value: str) -> str:
    """`value` with every URL password replaced by the mask; the user and host stay readable."""
    return URL_PASSWORD.sub(lambda m: m.group(0).replace(f":{m.group('password')}@", f":{MASK}@"), value or "")


def register_secret(value: str | None) -> None:
    # Very short values would redact ordinary words; real credentials are long.
    if value and len(value) >= 8:
        _SECRETS.add(value)


def redact(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text
