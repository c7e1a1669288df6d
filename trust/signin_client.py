"""Signing in through the sign-in service (``trust.signin_service``): what ``onechain
login``, the console and batch jobs use, so none of them needs the private signing
key. Each sign-in makes a fresh session key here and sends only its public half.

Standard library HTTP (``urllib``): one small request per sign-in, from synchronous
code (the CLI, the console's sign-in screen) as well as from threads.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from trust.action_proof import SessionKey

TIMEOUT_SECONDS = 30.0


class SignInUnavailable(Exception):
    """The sign-in service cannot be reached; the message names where it was looked for."""


class SignInFailed(Exception):
    """The service refused; the message is its reason, fit to show the person."""

    def __init__(
        self, message: str, status: int, needs_new_password: bool, retry_after: float | None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.needs_new_password = needs_new_password
        self.retry_after = retry_after


@dataclass(frozen=True)
class SignedSession:
    """A signed token and the session key it is bound to."""

    token: str
    key: SessionKey


def signin_url() -> str:
    from runtime.settings import get_settings

    return get_settings().signin_url.rstrip("/")


def _post(url: str, body: dict[str, Any]) -> str:
    data = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return str(json.loads(response.read())["token"])
    except urllib.error.HTTPError as refused:
        try:
            answer = json.loads(refused.read())
        except ValueError:
            answer = {}
        raise SignInFailed(
            str(answer.get("error") or f"sign-in service answered {refused.code}"),
            refused.code,
            bool(answer.get("needs_new_password")),
            answer.get("retry_after"),
        ) from None
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        reason = getattr(error, "reason", error)
        raise SignInUnavailable(
            f"登录服务不可用（sign-in service not reachable at {url.rsplit('/v1', 1)[0]}: "
            f"{reason}）：start `onechain up` or `onechain signin-service`, or set "
            "ONECHAIN_SIGNIN_URL"
        ) from None


def sign_in(
    user_id: str,
    password: str,
    *,
    new_password: str | None = None,
    hours: float | None = None,
    via: str = "login",
    url: str | None = None,
) -> SignedSession:
    """A person's session; raises :class:`SignInFailed` or :class:`SignInUnavailable`."""
    key = SessionKey.generate()
    body: dict[str, Any] = {
        "user_id": user_id,
        "password": password,
        "session_key": key.public_text,
        "via": via,
    }
    if new_password is not None:
        body["new_password"] = new_password
    if hours is not None:
        body["hours"] = hours
    token = _post(f"{url or signin_url()}/v1/sessions", body)
    return SignedSession(token=token, key=key)


def sign_in_service(api_key: str, key: SessionKey, *, url: str | None = None) -> str:
    """A service account's token bound to ``key``."""
    body = {"api_key": api_key, "session_key": key.public_text}
    return _post(f"{url or signin_url()}/v1/service-sessions", body)
