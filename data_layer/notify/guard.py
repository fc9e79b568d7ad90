"""Outgoing requests go only where an admin configured them, and not into the dashboard's own network.

A destination's host is resolved when it is configured and again at every attempt; an address that is not
global (loopback, private, link-local such as a cloud's metadata service, shared, reserved), multicast, or one
of this machine's own, is refused unless the destination was added with `allow_private` (a receiver on the
same host or network, as in the tests). A webhook connects to the very address that was checked, so a name
that resolves elsewhere between the check and the connection (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from data_layer.errors import InvalidInput


def _own_addresses() -> set[str]:
    found: set[str] = set()
    for name in {socket.gethostname(), socket.getfqdn()}:
        try:
            found.update(str(info[4][0]) for info in socket.getaddrinfo(name, None))
        except OSError:
            continue
    return found


def refusal(address: str) -> str | None:
    """Why a request may not go to `address`, or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast or ip.is_unspecified or not ip.is_global:
        return "a private or reserved address"
    if str(ip) in _own_addresses():
        return "this dashboard's own host"
    return None


def resolve(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses of `host` a request may go to: `InvalidInput` when it does not resolve, or when one of
    them is refused (and private addresses are not allowed)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise InvalidInput(f"host {host[:100]!r} does not resolve ({error})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        for address in addresses:
            why = refusal(address)
            if why:
                raise InvalidInput(
                    f"host {host[:100]!r} resolves to {address}, {why}: refused unless the destination is added "
                    "with allow private (--allow-private)"
                )
    return addresses


def webhook_target(url: str) -> tuple[str, str, int, str]:
    """`(scheme, host, port, path with query)` of a webhook URL; `InvalidInput` for anything but a plain
    http(s) URL with a host."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("a webhook needs a URL")
    if len(url) > 2000 or any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise InvalidInput("a webhook URL is at most 2,000 characters, without spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InvalidInput(f"webhook URL {url[:100]!r} is not valid: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"webhook URL {url[:100]!r} must be http:// or https:// with a host")
    if parts.username or parts.password:
        raise InvalidInput("a webhook URL may not carry a user or password: the signature authenticates the sender")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def apprise_host(url: str) -> str | None:
    """The network host an apprise URL sends to, for the services whose URL names one (a JSON or form post,
    mail, a self-hosted service); None for services at their own fixed hosts (Slack, Teams...)."""
    import apprise

    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        raise InvalidInput(f"{url[:60]!r}... is not an apprise URL of a service apprise knows")
    names_host = any("{host}" in template for template in getattr(plugin, "templates", ()))
    host = getattr(plugin, "host", None)
    return host if names_host and isinstance(host, str) and host else None


def check_apprise(url: str, *, allow_private: bool) -> None:
    """Refuse an apprise URL whose host is refused (`resolve`); a host that does not resolve here is left to
    apprise (it is often a token, not a host)."""
    host = apprise_host(url)
    if host is None:
        return
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return
    if not allow_private:
        for info in infos:
            why = refusal(str(info[4][0]))
            if why:
                raise InvalidInput(
                    f"apprise host {host[:100]!r} resolves to {info[4][0]}, {why}: refused unless the destination "
                    "is added with allow private (--allow-private)"
                )
