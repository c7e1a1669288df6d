"""Temporal's codec-server HTTP protocol, so the Web UI can show sealed payloads.

The Web UI (``temporal server start-dev --ui-codec-endpoint URL``, or the UI's "Codec
Server" setting) POSTs ``{"payloads": [...]}`` (protobuf JSON: base64 ``data`` and
``metadata`` values) to ``URL/decode`` (and ``URL/encode`` when a user sends data), with
an ``X-Namespace`` header and, when the UI passes the user's access token, an
``Authorization`` header. The browser first sends a CORS preflight (``OPTIONS``) that
carries no credentials, so preflights are answered for the configured UI origins only
and never authorised; every POST is.

Who may see personal data is not decided here: the server takes an ``authorize``
callable (``Authorization`` header → refusal message, or None to allow):
``trust.codec_access.signed_in_reader`` checks session tokens; ``allow_local_insecure``
lets every caller decode and is only accepted on a loopback address.

Whatever is decoded, the trust headers (session tokens, action proofs) never leave:
they come back as a placeholder. Every decode can be recorded (``record_read``: who
read which cases' data, 个人信息保护法); a read that cannot be recorded is refused.

Standard library only (``http.server`` in threads): the codec is synchronous and fast,
requests are small and few (one per history page the UI shows), so a web framework
would add a dependency and nothing else.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from runtime.codec import PayloadKeyError, SealingCodec
from trust.credentials import is_trust_payload

logger = logging.getLogger(__name__)

#: ``authorization_header -> refusal message`` (None: allowed).
Authorize = Callable[[str | None], str | None]
#: ``payload -> True`` for an unsealed payload that must never leave the server (the
#: trust headers: tokens and action proofs).
Withhold = Callable[[Payload], bool]
#: ``(authorization_header, payloads decoded)``: record who read what.
RecordRead = Callable[[str | None, Sequence[Payload]], None]


def _withheld_placeholder() -> Payload:
    """What the UI shows in place of a withheld payload."""
    return Payload(
        metadata={"encoding": b"json/plain"},
        data=json.dumps("«会话凭据，不予显示（session credential withheld）»").encode("utf-8"),
    )


MAX_BODY_BYTES = 16 * 1024 * 1024
ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"


def allow_local_insecure(authorization: str | None) -> str | None:
    """``--insecure-local``: everyone who can reach the (loopback) port may decode."""
    return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class CodecServer(ThreadingHTTPServer):
    """An HTTP server that decodes / encodes payloads for the allowed UI origins."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        codec: SealingCodec,
        authorize: Authorize,
        ui_origins: Sequence[str],
        withhold: Withhold = is_trust_payload,
        record_read: RecordRead | None = None,
    ) -> None:
        self.codec = codec
        self.authorize = authorize
        self.ui_origins = frozenset(origin.rstrip("/") for origin in ui_origins)
        self.withhold = withhold
        self.record_read = record_read
        super().__init__(address, CodecRequestHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class CodecRequestHandler(BaseHTTPRequestHandler):
    server: CodecServer
    protocol_version = "HTTP/1.1"

    # -- CORS -------------------------------------------------------------------------

    def _cors_headers(self) -> None:
        origin = (self.headers.get("Origin") or "").rstrip("/")
        if origin and origin in self.server.ui_origins:
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Access-Control-Allow-Credentials", "true")
            self.send_header("Vary", "Origin")

    def do_OPTIONS(self) -> None:
        """Preflight: allowed for the UI's origins, without credentials (browsers send none)."""
        origin = (self.headers.get("Origin") or "").rstrip("/")
        if origin not in self.server.ui_origins:
            self._reply(HTTPStatus.FORBIDDEN, {"error": f"origin {origin!r} is not allowed"})
            return
        self.send_response(HTTPStatus.NO_CONTENT)
        self._cors_headers()
        self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", ALLOWED_HEADERS)
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Content-Length", "0")
        self.end_headers()

    # -- decode / encode --------------------------------------------------------------

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        operation = path.rsplit("/", 1)[-1]
        if operation not in ("decode", "encode"):
            self._reply(HTTPStatus.NOT_FOUND, {"error": "POST /decode or /encode"})
            return
        authorization = self.headers.get("Authorization")
        refusal = self.server.authorize(authorization)
        if refusal is not None:
            status = HTTPStatus.UNAUTHORIZED if not authorization else HTTPStatus.FORBIDDEN
            self._reply(status, {"error": refusal})
            return
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": "Content-Length is not a number"})
            return
        if length > MAX_BODY_BYTES:
            self._reply(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                {"error": f"body over {MAX_BODY_BYTES} bytes"},
            )
            return
        body = self.rfile.read(length)
        try:
            payloads = json_format.Parse(body or b"{}", Payloads())
        except json_format.ParseError as error:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": f"not a payloads document: {error}"})
            return
        try:
            converted = self._apply(operation, payloads.payloads)
        except PayloadKeyError as error:
            self._reply(HTTPStatus.UNPROCESSABLE_ENTITY, {"error": str(error)})
            return
        namespace = self.headers.get("X-Namespace") or "-"
        logger.info("codec %s namespace=%s payloads=%d", operation, namespace, len(converted))
        if operation == "decode" and self.server.record_read is not None:
            try:
                self.server.record_read(authorization, converted)
            except Exception as error:  # a read that cannot be recorded is not served
                logger.error("codec: read not recorded: %s", type(error).__name__)
                self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "read log unavailable"})
                return
        document = json_format.MessageToDict(Payloads(payloads=converted))
        document.setdefault("payloads", [])
        self._reply(HTTPStatus.OK, document)

    def _apply(self, operation: str, payloads: Sequence[Payload]) -> list[Payload]:
        codec = self.server.codec
        if operation == "decode":
            opened = [codec.open(payload) for payload in payloads]
            return [_withheld_placeholder() if self.server.withhold(p) else p for p in opened]
        return [codec.seal(payload) for payload in payloads]

    def _reply(self, status: HTTPStatus, document: dict[str, object]) -> None:
        data = json.dumps(document, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self._cors_headers()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Access lines go to logging (not stderr), and never carry payloads."""
        logger.debug("%s %s", self.address_string(), format % args)
