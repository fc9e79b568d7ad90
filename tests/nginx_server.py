"""Debian's nginx running the shipped deploy/nginx.conf on a free loopback port, with the replicas' ports
(and the sign-in server's, oauth2-proxy or a stand-in) put in place of the example ones."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT, free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class Nginx:
    """Debian's nginx running deploy/nginx.conf, with the replicas' ports and a free listening port."""

    def __init__(self, upstreams: list[int], signin_port: int | None = None):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="feedback-nginx-"))
        os.chmod(self.dir, 0o755)
        site = (ROOT / "deploy" / "nginx.conf").read_text()
        servers = "".join(f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;\n" for port in upstreams)
        site = re.sub(r"(    server 127\.0\.0\.1:\d+ [^\n]*\n)+", servers, site)
        if signin_port is not None:
            site = site.replace("    server 127.0.0.1:4180;\n", f"    server 127.0.0.1:{signin_port};\n")
        site = site.replace("listen 80;", f"listen 127.0.0.1:{self.port};")
        (self.dir / "site.conf").write_text(site)
        user = "user root;\n" if os.geteuid() == 0 else ""
        (self.dir / "nginx.conf").write_text(
            f"""{user}worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 512; }}
http {{
    log_format upstream '$remote_addr|$upstream_addr|$status|$http_x_request_id|$request';
    access_log {self.dir}/access.log upstream;
    client_body_temp_path {self.dir}/body;
    proxy_temp_path {self.dir}/proxy;
    fastcgi_temp_path {self.dir}/fastcgi;
    uwsgi_temp_path {self.dir}/uwsgi;
    scgi_temp_path {self.dir}/scgi;
    include {self.dir}/site.conf;
}}
"""
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [NGINX, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=(self.dir / "stderr.log").open("w"),
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"{self.url}/_stcore/health", timeout=2)
                return
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {(self.dir / 'stderr.log').read_text()}") from None
                time.sleep(0.1)

    def _log(self) -> list[tuple[str, set[str], str, str]]:
        entries = []
        for line in (self.dir / "access.log").read_text().splitlines():
            client, upstream, _status, request_id, request = line.split("|", 4)
            if "/api/" in request:
                entries.append((client, {part.strip() for part in upstream.split(",")}, request_id, request))
        return entries

    def routes(self) -> dict[str, set[str]]:
        """For each client address, the replicas (host:port) nginx sent its API requests to."""
        seen: dict[str, set[str]] = {}
        for client, upstreams, _, _ in self._log():
            seen.setdefault(client, set()).update(upstreams)
        return seen

    def tried_twice(self) -> set[str]:
        """Request ids that nginx passed on to a second replica after the first failed."""
        return {request_id for _, upstreams, request_id, _ in self._log() if len(upstreams) > 1}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)
