"""``onechain codec-server`` over real HTTP: the Web UI's decode/encode protocol, CORS
for the UI's origin, and refusals (401 without credentials, 403 with wrong ones)."""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.contrib.pydantic import pydantic_data_converter
from typer.testing import CliRunner

from cli.app import app
from runtime.codec import SealingCodec
from runtime.codec_server import Authorize, CodecServer
from runtime.keys import init_keys, load_payload_keys, rotate

UI = "http://127.0.0.1:8233"
SECRET_NAME = "王小明"


def signed_in(authorization: str | None) -> str | None:
    """Stands in for the lead's sign-in check: one good bearer token."""
    if authorization == "Bearer good":
        return None
    return "not signed in" if authorization is None else "this session may not see personal data"


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    init_keys(tmp_path)
    return tmp_path


def serve(keys_dir: Path, authorize: Authorize) -> Iterator[CodecServer]:
    server = CodecServer(
        ("127.0.0.1", 0), SealingCodec(load_payload_keys(keys_dir, {})), authorize, [UI]
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def server(keys_dir: Path) -> Iterator[CodecServer]:
    yield from serve(keys_dir, signed_in)


def request(
    url: str, method: str = "POST", body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    all_headers = {"Origin": UI, "Content-Type": "application/json", "X-Namespace": "default"}
    all_headers.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            status, head, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, head, raw = error.code, dict(error.headers), error.read()
    return status, head, json.loads(raw) if raw else None


def sealed_document(keys_dir: Path, value: Any) -> dict[str, Any]:
    plain = pydantic_data_converter.payload_converter.to_payloads([value])
    codec = SealingCodec(load_payload_keys(keys_dir, {}))
    sealed = [codec.seal(payload) for payload in plain]
    return json_format.MessageToDict(Payloads(payloads=sealed))


def decoded_values(document: dict[str, Any]) -> list[Any]:
    payloads = json_format.ParseDict(document, Payloads()).payloads
    return [json.loads(p.data) for p in payloads]


def test_a_signed_in_user_sees_the_payload_in_clear(server: CodecServer, keys_dir: Path) -> None:
    document = sealed_document(keys_dir, {"name": SECRET_NAME})
    assert SECRET_NAME.encode() not in base64.b64decode(document["payloads"][0]["data"])
    status, headers, body = request(
        f"{server.url}/decode", body=document, headers={"Authorization": "Bearer good"}
    )
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == UI
    assert decoded_values(body) == [{"name": SECRET_NAME}]


def test_encode_then_decode_round_trips(server: CodecServer) -> None:
    plain = pydantic_data_converter.payload_converter.to_payloads([{"phone": "13912345678"}])
    document = json_format.MessageToDict(Payloads(payloads=plain))
    auth = {"Authorization": "Bearer good"}
    status, _, encoded = request(f"{server.url}/encode", body=document, headers=auth)
    assert status == 200
    assert (
        encoded["payloads"][0]["metadata"]["encoding"]
        == base64.b64encode(b"binary/encrypted").decode()
    )
    status, _, decoded = request(f"{server.url}/decode", body=encoded, headers=auth)
    assert status == 200 and decoded_values(decoded) == [{"phone": "13912345678"}]


def test_no_credentials_401_wrong_credentials_403_with_cors_so_the_ui_shows_why(
    server: CodecServer, keys_dir: Path
) -> None:
    document = sealed_document(keys_dir, {"name": SECRET_NAME})
    status, headers, body = request(f"{server.url}/decode", body=document)
    assert status == 401 and body == {"error": "not signed in"}
    assert headers["Access-Control-Allow-Origin"] == UI
    status, _, body = request(
        f"{server.url}/decode", body=document, headers={"Authorization": "Bearer clerk"}
    )
    assert status == 403 and SECRET_NAME not in json.dumps(body, ensure_ascii=False)
    status, _, _ = request(f"{server.url}/encode", body=document)
    assert status == 401


def test_preflight_allows_the_ui_origin_and_the_authorization_header(server: CodecServer) -> None:
    status, headers, _ = request(
        f"{server.url}/decode",
        method="OPTIONS",
        headers={
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        },
    )
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == UI
    allowed = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "x-namespace"} <= allowed
    assert "POST" in headers["Access-Control-Allow-Methods"]

    status, headers, _ = request(
        f"{server.url}/decode", method="OPTIONS", headers={"Origin": "http://evil.example"}
    )
    assert status == 403 and "Access-Control-Allow-Origin" not in headers


def test_a_payload_sealed_with_an_unknown_key_is_refused_by_name(
    server: CodecServer, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    init_keys(other)
    document = sealed_document(other, {"name": SECRET_NAME})
    kid = load_payload_keys(other, {}).active_kid
    status, _, body = request(
        f"{server.url}/decode", body=document, headers={"Authorization": "Bearer good"}
    )
    assert status == 422 and kid in body["error"]


def test_bad_documents_and_paths(server: CodecServer) -> None:
    auth = {"Authorization": "Bearer good"}
    status, _, body = request(f"{server.url}/decode", body={"payloads": "nope"}, headers=auth)
    assert status == 400 and "not a payloads document" in body["error"]
    status, _, _ = request(f"{server.url}/other", body={}, headers=auth)
    assert status == 404


def test_a_rotated_key_still_decodes_old_payloads(keys_dir: Path) -> None:
    old = sealed_document(keys_dir, {"name": SECRET_NAME})
    rotate(keys_dir, "payload")
    for running in serve(keys_dir, signed_in):
        status, _, body = request(
            f"{running.url}/decode", body=old, headers={"Authorization": "Bearer good"}
        )
        assert status == 200 and decoded_values(body) == [{"name": SECRET_NAME}]


def test_only_signed_in_people_with_a_personal_data_role_decode(keys_dir: Path) -> None:
    """The server's real check: session tokens verified like every action."""
    from domain.roles import Actor, Role
    from tests.harness import session_signer
    from trust.codec_access import signed_in_reader
    from trust.directory import shared_directory
    from trust.verifier import IdentityVerifier

    signer = session_signer()
    verifier = IdentityVerifier(
        signer._keys.public_keys, shared_directory(signer._engine, refresh_seconds=2.0)
    )
    coordinator = signer.sign(Actor(user_id="codec-coord", name="协调员", role=Role.COORDINATOR))
    reviewer = signer.sign(
        Actor(user_id="codec-rev", name="审查员", role=Role.REVIEWER, department="fire")
    )
    document = sealed_document(keys_dir, {"name": SECRET_NAME})
    for running in serve(keys_dir, signed_in_reader(verifier)):
        url = f"{running.url}/decode"
        allowed = request(
            url, body=document, headers={"Authorization": f"Bearer {coordinator.token}"}
        )
        assert allowed[0] == 200 and decoded_values(allowed[2]) == [{"name": SECRET_NAME}]
        assert request(url, body=document)[0] == 401
        refused = request(url, body=document, headers={"Authorization": f"Bearer {reviewer.token}"})
        assert refused[0] == 403 and SECRET_NAME not in json.dumps(refused[2], ensure_ascii=False)
        garbage = request(url, body=document, headers={"Authorization": "Bearer x.y.z"})
        assert garbage[0] == 403


def test_insecure_local_is_refused_on_a_public_address() -> None:
    result = CliRunner().invoke(app, ["codec-server", "--insecure-local", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "--insecure-local only binds a loopback address" in result.stderr
    help_text = CliRunner().invoke(app, ["codec-server", "--help"]).stdout
    assert "--insecure-local" in help_text and "signed-in" in help_text
