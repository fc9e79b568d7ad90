"""The gate in front of the whole server (pages, their websocket, the REST API): an ASGI middleware
that turns a request away before anything answers it, by the rules in `data_layer.access`.

- Local mode (no sign-in configured) serves only a loopback `Host`, unless `FEEDBACK_ALLOW_LOCAL_MODE=1`:
  a page from another site that a visitor's DNS points at 127.0.0.1 (DNS rebinding) arrives with its
  own name as `Host`, and a visitor from the network with this machine's name or address.
- Behind an authenticating proxy, a request that carries the identity headers from an address that
  is not the proxy's (`FEEDBACK_TRUSTED_PROXIES`) is refused: someone is claiming to be a user.

The peer address is the ASGI scope's `client`, as uvicorn reports it: the address X-Forwarded-For
names when the peer is in uvicorn's `FORWARDED_ALLOW_IPS`, which is why the dashboard does not start
in proxy mode when that setting reaches beyond the trusted proxies (`access.startup_problem`).
"""

from __future__ import annotations

from collections.abc import Callable

from data_layer import access


class Gate:
    """ASGI middleware; `mode` says how users are known now: "proxy", "oidc" or "local"."""

    def __init__(self, app, mode: Callable[[], str]):
        self.app = app
        self.mode = mode

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket"):
            refusal = self.refusal(scope)
            if refusal is not None:
                await _refuse(scope, send, refusal)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope) -> str | None:
        """Why this request is not served, or None."""
        how = self.mode()
        if how == "local":
            hosts = [value.decode("latin-1") for name, value in scope["headers"] if name == b"host"]
            return access.local_mode_refusal(hosts[0] if len(hosts) == 1 else None)
        if how == "proxy":
            claimed = set(access.identity_headers())
            if any(name.decode("latin-1") in claimed for name, _ in scope["headers"]):
                client = scope.get("client")
                return access.proxy_refusal(client[0] if client else None)
        return None


async def _refuse(scope, send, message: str) -> None:
    if scope["type"] == "websocket":
        # Closing before the handshake is accepted answers it 403: no session is ever opened.
        await send({"type": "websocket.close", "code": 1008})
        return
    body = (message + "\n").encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
