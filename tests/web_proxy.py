"""Debian's nginx as the TLS reverse proxy in front of ``onechain web``, for
tests/test_web_console.py.

The configuration is ``deploy/nginx/onechain-web.conf`` itself (only its listen port
and upstream are rewritten), with a throwaway CA's certificate for 127.0.0.1, so the
shipped example is what the browser signs in through.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.mtls_proxy import Authority, free_port

DEPLOY_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "onechain-web.conf"
LISTEN_LINE = "listen 127.0.0.1:8443 ssl;"
UPSTREAM_LINE = "proxy_pass http://127.0.0.1:8000;"


@dataclass(frozen=True)
class WebProxy:
    url: str
    ca: Path
    process: subprocess.Popen[bytes]
    prefix: Path

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def render_config(listen_port: int, upstream_port: int) -> str:
    """The shipped file with its own port and upstream; fails if those lines moved."""
    text = DEPLOY_CONFIG.read_text()
    for line in (LISTEN_LINE, UPSTREAM_LINE):
        if text.count(line) != 1:
            raise AssertionError(f"{DEPLOY_CONFIG.name} no longer has exactly one {line!r}")
    return text.replace(LISTEN_LINE, f"listen 127.0.0.1:{listen_port} ssl;").replace(
        UPSTREAM_LINE, f"proxy_pass http://127.0.0.1:{upstream_port};"
    )


def reserve_port() -> int:
    return free_port()


def start_web_proxy(nginx: str, listen_port: int, upstream_port: int) -> WebProxy:
    """nginx in the foreground, everything in a temporary folder (no root-owned paths)."""
    prefix = Path(tempfile.mkdtemp(prefix="onechain-web-nginx-"))
    prefix.chmod(0o755)
    (prefix / "tmp").mkdir(mode=0o755)
    tls = prefix / "tls"
    tls.mkdir(mode=0o700)
    authority = Authority(tls, "onechain-web-test")
    server = authority.issue("server", server=True)
    server.cert.rename(tls / "server.pem")
    server.key.rename(tls / "server.key")
    conf = prefix / "nginx.conf"
    conf.write_text(render_config(listen_port, upstream_port))
    process = subprocess.Popen(
        [nginx, "-p", f"{prefix}/", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    proxy = WebProxy(
        url=f"https://127.0.0.1:{listen_port}/", ca=authority.pem, process=process, prefix=prefix
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, err = process.communicate()
            log = proxy.error_log()
            shutil.rmtree(prefix, ignore_errors=True)
            raise RuntimeError(
                f"nginx exited with code {process.returncode}: "
                f"{err.decode(errors='replace').strip()} {log}"
            )
        with socket.socket() as probe:
            probe.settimeout(0.2)
            if probe.connect_ex(("127.0.0.1", listen_port)) == 0:
                return proxy
        time.sleep(0.05)
    stop_web_proxy(proxy)
    raise RuntimeError(f"nginx did not listen on {listen_port} in 15 s: {proxy.error_log()}")


def stop_web_proxy(proxy: WebProxy) -> None:
    process = proxy.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stderr is not None:
        process.stderr.close()
    shutil.rmtree(proxy.prefix, ignore_errors=True)
