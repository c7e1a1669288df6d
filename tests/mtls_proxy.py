"""A throwaway PKI and Debian's nginx as an mTLS-terminating gRPC proxy in front of a
Temporal server on loopback, for tests/test_insider.py.

The nginx configuration is ``deploy/nginx-temporal-mtls.conf`` itself (only its listen
and upstream addresses are rewritten), so the shipped example is what the test proves.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEPLOY_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "nginx-temporal-mtls.conf"
#: The two lines of the shipped example the test rewrites (its own port, its upstream).
LISTEN_LINE = "listen 127.0.0.1:7443 ssl http2;"
UPSTREAM_LINE = "grpc_pass grpc://127.0.0.1:7233;"


def nginx_binary() -> str | None:
    """Debian installs nginx in /usr/sbin, which a non-root PATH may lack."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Identity:
    """A certificate and its private key, as PEM files."""

    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class Authority:
    """A certificate authority that lives as long as the test (one day of validity)."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.subject = _name(name)
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.subject)
            .issuer_name(self.subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        self.pem = _write(
            folder / f"{name}-ca.pem", self.cert.public_bytes(serialization.Encoding.PEM)
        )

    def issue(self, name: str, *, server: bool) -> Identity:
        """A server certificate for 127.0.0.1/localhost, or a client certificate."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(self.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        cert = builder.sign(self.key, hashes.SHA256())
        return Identity(
            cert=_write(self.folder / f"{name}.pem", cert.public_bytes(serialization.Encoding.PEM)),
            key=_write(self.folder / f"{name}.key", _pem_key(key)),
        )


@dataclass(frozen=True)
class Proxy:
    """A running nginx: the address clients dial and the PKI they may use."""

    address: str
    ca: Path
    client: Identity
    #: A well-formed client certificate from another CA: must be refused like none.
    stranger: Identity
    process: subprocess.Popen[bytes]
    prefix: Path

    def client_env(self, identity: Identity | None) -> dict[str, str]:
        """The standard TEMPORAL_* variables (read by temporalio's envconfig) that make
        an onechain process dial this proxy, with ``identity`` or without a certificate."""
        env = {"TEMPORAL_ADDRESS": self.address, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(self.ca)}
        if identity is not None:
            env["TEMPORAL_TLS_CLIENT_CERT_PATH"] = str(identity.cert)
            env["TEMPORAL_TLS_CLIENT_KEY_PATH"] = str(identity.key)
        return env

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def render_config(listen_port: int, upstream: str) -> str:
    """The shipped example with its own port and upstream; fails if those lines moved."""
    text = DEPLOY_CONFIG.read_text()
    for line in (LISTEN_LINE, UPSTREAM_LINE):
        if text.count(line) != 1:
            raise AssertionError(f"{DEPLOY_CONFIG.name} no longer has exactly one {line!r}")
    return text.replace(LISTEN_LINE, f"listen 127.0.0.1:{listen_port} ssl http2;").replace(
        UPSTREAM_LINE, f"grpc_pass grpc://{upstream};"
    )


def start_proxy(nginx: str, upstream: str) -> Proxy:
    """nginx in the foreground, everything in a temporary folder (no root-owned paths).

    The folder is under the system temp (traversable by nginx's unprivileged workers
    when the test runs as root); the keys in it are read by the master only.
    """
    prefix = Path(tempfile.mkdtemp(prefix="onechain-nginx-"))
    prefix.chmod(0o755)
    (prefix / "tmp").mkdir(mode=0o755)
    tls = prefix / "tls"
    tls.mkdir(mode=0o700)
    authority = Authority(tls, "onechain-test")
    server = authority.issue("server", server=True)
    server.cert.rename(tls / "server.pem")
    server.key.rename(tls / "server.key")
    (tls / "ca.pem").write_bytes(authority.pem.read_bytes())
    client = authority.issue("worker", server=False)
    stranger = Authority(tls, "elsewhere").issue("stranger", server=False)

    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(render_config(port, upstream))
    proxy = Proxy(
        address=f"127.0.0.1:{port}",
        ca=tls / "ca.pem",
        client=client,
        stranger=stranger,
        process=run_nginx(nginx, prefix, conf),
        prefix=prefix,
    )
    wait_for_nginx(proxy.process, port, proxy.prefix, proxy.error_log)
    return proxy


def run_nginx(nginx: str, prefix: Path, conf: Path) -> subprocess.Popen[bytes]:
    """nginx in the foreground of its own process group, on its own prefix folder."""
    return subprocess.Popen(
        [nginx, "-p", f"{prefix}/", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def wait_for_nginx(
    process: subprocess.Popen[bytes], port: int, prefix: Path, error_log: Callable[[], str]
) -> None:
    """Return once nginx listens on ``port``; stop it and raise, with its own words, if it
    exits or does not listen within 15 s."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, err = process.communicate()
            log = error_log()
            shutil.rmtree(prefix, ignore_errors=True)
            raise RuntimeError(
                f"nginx exited with code {process.returncode}: "
                f"{err.decode(errors='replace').strip()} {log}"
            )
        with socket.socket() as probe:
            probe.settimeout(0.2)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    log = error_log()
    stop_nginx(process, prefix)
    raise RuntimeError(f"nginx did not listen on 127.0.0.1:{port} in 15 s: {log}")


def stop_proxy(proxy: Proxy) -> None:
    stop_nginx(proxy.process, proxy.prefix)


def stop_nginx(process: subprocess.Popen[bytes], prefix: Path) -> None:
    """SIGTERM (nginx's fast shutdown), then SIGKILL to its own process group."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if process.stderr is not None:
        process.stderr.close()
    shutil.rmtree(prefix, ignore_errors=True)
