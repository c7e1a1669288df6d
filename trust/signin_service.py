"""The sign-in service: the sign-in authority over HTTP (aiohttp), so ``onechain login``,
the console and batch jobs on any machine sign in without holding the private key.

``POST /v1/sessions`` ``{"user_id", "password", "session_key", "new_password"?,
"hours"?, "via"?}`` and ``POST /v1/service-sessions`` ``{"api_key", "session_key"}``
answer ``{"token": ...}``, or an error ``{"error", "needs_new_password"?,
"retry_after"?}`` with 400 (bad request), 401 (wrong password or key), 403 (disabled),
409 (a one-time password must be replaced), 429 (throttled; ``Retry-After``).
``GET /v1/health`` says it is up and which key id it signs with.

The password travels in the request body: put TLS in front of it (a reverse proxy)
wherever it is reached over a network; the embedded default binds loopback.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from trust.accounts import AccountError
from trust.authority import SignInAuthority, SignInRefused

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024


class PasswordSignIn(BaseModel):
    user_id: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    session_key: str = Field(min_length=1, max_length=128)
    new_password: str | None = Field(default=None, max_length=1024)
    hours: float | None = Field(default=None, gt=0, le=12)
    via: str = Field(default="login", max_length=32)


class ServiceSignIn(BaseModel):
    api_key: str = Field(min_length=1, max_length=512)
    session_key: str = Field(min_length=1, max_length=128)


def _error(status: int, message: str, **extra: Any) -> web.Response:
    headers = {}
    if extra.get("retry_after") is not None:
        headers["Retry-After"] = str(int(extra["retry_after"]))
    return web.json_response({"error": message, **extra}, status=status, headers=headers)


async def _body(request: web.Request, model: type[BaseModel]) -> BaseModel | web.Response:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _error(413, f"body over {MAX_BODY_BYTES} bytes")
    try:
        return model.model_validate(await request.json())
    except ValidationError as invalid:
        first = invalid.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        return _error(400, f"{where}: {first['msg']}")
    except ValueError:
        return _error(400, "body is not JSON")


def _source(request: web.Request) -> str:
    return request.remote or "unknown"


#: The authority that answers a request: one for the service's life, or (tests, where
#: each test has a data folder of its own) the one the current settings name.
AuthoritySource = Callable[[], SignInAuthority]


def make_app(authority_of: AuthoritySource) -> web.Application:
    """The service's routes around the authority (signing runs in a thread: argon2 and
    the database would block the event loop)."""

    async def sessions(request: web.Request) -> web.Response:
        body = await _body(request, PasswordSignIn)
        if isinstance(body, web.Response):
            return body
        assert isinstance(body, PasswordSignIn)
        try:
            session = await asyncio.to_thread(
                lambda *args, **kwargs: authority_of().login(*args, **kwargs),
                body.user_id,
                body.password,
                body.session_key,
                source=_source(request),
                new_password=body.new_password,
                hours=body.hours,
                via=body.via,
            )
        except AccountError as broken:  # no private key here, or no database
            return _error(503, str(broken))
        except SignInRefused as refused:
            return _error(
                refused.status,
                str(refused),
                needs_new_password=refused.needs_new_password,
                retry_after=refused.retry_after,
            )
        return web.json_response({"token": session.token})

    async def service_sessions(request: web.Request) -> web.Response:
        body = await _body(request, ServiceSignIn)
        if isinstance(body, web.Response):
            return body
        assert isinstance(body, ServiceSignIn)
        try:
            session = await asyncio.to_thread(
                lambda: authority_of().service_login(
                    body.api_key, body.session_key, source=_source(request)
                )
            )
        except AccountError as broken:
            return _error(503, str(broken))
        except SignInRefused as refused:
            return _error(refused.status, str(refused), retry_after=refused.retry_after)
        return web.json_response({"token": session.token})

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "kid": authority_of().keys.active_kid})

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/v1/sessions", sessions)
    app.router.add_post("/v1/service-sessions", service_sessions)
    app.router.add_get("/v1/health", health)
    return app


@dataclass
class RunningService:
    """A sign-in service on a thread of its own (``onechain up``, tests)."""

    url: str
    _loop: asyncio.AbstractEventLoop
    _runner: web.AppRunner
    _thread: threading.Thread

    def stop(self) -> None:
        future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        try:
            future.result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


def start_in_thread(authority_of: AuthoritySource, host: str, port: int) -> RunningService:
    """Serve the authority on ``host:port`` (0: any free port) from a background thread;
    raises OSError when the port is taken."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(make_app(authority_of), access_log=None)
    ready: dict[str, Any] = {}
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, host, port)
            loop.run_until_complete(site.start())
            server = site._server  # the bound socket tells the port when 0 was asked
            sockets = getattr(server, "sockets", None) or []
            ready["port"] = sockets[0].getsockname()[1] if sockets else port
        except BaseException as error:  # reported to the starting thread
            ready["error"] = error
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=run, name="onechain-signin", daemon=True)
    thread.start()
    started.wait(timeout=30)
    if "error" in ready:
        raise ready["error"]
    return RunningService(f"http://{host}:{ready['port']}", loop, runner, thread)
