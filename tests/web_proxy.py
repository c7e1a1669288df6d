"""Debian's nginx as the TLS reverse proxy in front of ``onechain web``, for
tests/test_web_console.py.

The configuration is ``deploy/nginx/onechain-web.conf`` itself (only its listen port
and upstream are rewritten), with a throwaway CA's certificate for 127.0.0.1, so the
shipped example is what the browser signs in through.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.mtls_proxy import Authority, free_port, run_nginx, stop_nginx, wait_for_nginx

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
    proxy = WebProxy(
        url=f"https://127.0.0.1:{listen_port}/",
        ca=authority.pem,
        process=run_nginx(nginx, prefix, conf),
        prefix=prefix,
    )
    wait_for_nginx(proxy.process, listen_port, prefix, proxy.error_log)
    return proxy


def stop_web_proxy(proxy: WebProxy) -> None:
    stop_nginx(proxy.process, proxy.prefix)
