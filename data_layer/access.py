"""Who may reach the dashboard at all, before anyone is signed in: the rules that `data_layer.gate`
applies to every request and the pages apply again (docs/identity.md, "Secure defaults").

- Local mode (no sign-in configured) serves only a request whose `Host` names this machine, unless
  `FEEDBACK_ALLOW_LOCAL_MODE=1` opens it to whoever can connect, each of them the admin.
- `FEEDBACK_REQUIRE_SIGNIN=1` (a team deployment) refuses to start in local mode at all.
- Behind an authenticating proxy, the identity headers count only from the proxy's addresses,
  `FEEDBACK_TRUSTED_PROXIES` (CIDRs; loopback by default, as Grafana's auth-proxy whitelist).
"""

from __future__ import annotations

import ipaddress
import os
import re

from data_layer import auth
from data_layer.errors import InvalidInput

ALLOW_LOCAL_MODE_VARIABLE = "FEEDBACK_ALLOW_LOCAL_MODE"
REQUIRE_SIGNIN_VARIABLE = "FEEDBACK_REQUIRE_SIGNIN"
TRUSTED_PROXIES_VARIABLE = "FEEDBACK_TRUSTED_PROXIES"
# The proxy on the same machine, the usual setup; any other proxy is named deliberately.
DEFAULT_TRUSTED_PROXIES = "127.0.0.0/8,::1/128"
# uvicorn's own setting: from these peers it takes the client address from X-Forwarded-For.
FORWARDED_VARIABLE = "FORWARDED_ALLOW_IPS"
DEFAULT_FORWARDED = "127.0.0.1,::1"
_YES, _NO = {"1", "true", "yes", "on"}, {"", "0", "false", "no", "off"}
_PORT = re.compile(r":[0-9]{1,5}")

LOCAL_ONLY = (
    "This dashboard runs in local mode (no sign-in is configured), so it serves only the machine it runs on: "
    "open it there through localhost. To share it, configure sign-in, with OpenID Connect or an "
    f"authenticating proxy and {auth.TRUSTED_HEADER_VARIABLE} (docs/identity.md). To serve local mode to the "
    f"network anyway, where every visitor is the admin, set {ALLOW_LOCAL_MODE_VARIABLE}=1."
)
SIGNIN_REQUIRED = (
    f"{REQUIRE_SIGNIN_VARIABLE}=1 and no sign-in is configured: set {auth.TRUSTED_HEADER_VARIABLE} (behind an "
    "authenticating proxy) or an [auth] table in the secrets (OpenID Connect); see docs/identity.md"
)


def flag(variable: str) -> bool:
    """A yes/no setting from the environment; `InvalidInput` for anything but 1/0, true/false, yes/no, on/off."""
    value = os.environ.get(variable, "").strip().lower()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise InvalidInput(f"{variable} must be 1 or 0, not {value[:20]!r}")


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(variable: str, value: str) -> tuple[_Network, ...]:
    networks = []
    for entry in filter(None, (part.strip() for part in value.split(","))):
        try:
            networks.append(ipaddress.ip_network(entry))
        except ValueError as error:
            raise InvalidInput(f"{variable}: {entry[:50]!r} is not a CIDR ({error})") from None
    return tuple(networks)


def _within(inner: _Network, outer: _Network) -> bool:
    """Whether `inner` lies inside `outer`; never across IP versions."""
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False


def trusted_proxies() -> tuple[_Network, ...]:
    """The networks the identity headers are honoured from: `FEEDBACK_TRUSTED_PROXIES`, else loopback."""
    value = os.environ.get(TRUSTED_PROXIES_VARIABLE, "").strip() or DEFAULT_TRUSTED_PROXIES
    return _networks(TRUSTED_PROXIES_VARIABLE, value)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def is_loopback_host(host: str | None) -> bool:
    """Whether a `Host` header names this machine: localhost or a loopback address, with any port.

    Any other name is refused even when it resolves here: that is the shape of a DNS-rebinding attack.
    """
    host = (host or "").strip().lower()
    if host.startswith("["):
        name, bracket, port = host[1:].partition("]")
        if not bracket:
            return False
    else:
        name, colon, port = host.partition(":")
        port = colon + port
    if port and not _PORT.fullmatch(port):
        return False
    address = _address(name)
    return name.rstrip(".") == "localhost" or (address is not None and address.is_loopback)


def is_trusted_proxy(peer: str | None, networks=None) -> bool:
    """Whether a connection's peer address is one of the authenticating proxy's."""
    address = _address(peer or "")
    networks = trusted_proxies() if networks is None else networks
    return address is not None and any(address in network for network in networks)


def local_mode_refusal(host: str | None) -> str | None:
    """In local mode, why a request with this `Host` is not served (None: served)."""
    if flag(ALLOW_LOCAL_MODE_VARIABLE) or is_loopback_host(host):
        return None
    return LOCAL_ONLY


def proxy_refusal(peer: str | None) -> str | None:
    """Behind a proxy, why identity headers from this peer address are not honoured (None: honoured)."""
    if is_trusted_proxy(peer):
        return None
    allowed = ", ".join(str(network) for network in trusted_proxies())
    return (
        f"This request came from {peer or 'an unknown address'}, which is not the authenticating proxy's "
        f"({TRUSTED_PROXIES_VARIABLE}: {allowed}), so its identity headers are not honoured and nobody is "
        "signed in. Open the dashboard through its proxy (docs/identity.md)."
    )


def identity_headers() -> tuple[str, ...]:
    """The request headers that name a user in proxy mode, lower-cased."""
    return tuple(name.lower() for name in (auth.trusted_header(), auth.trusted_groups_header()) if name)


def _forwarding_problem() -> str | None:
    """uvicorn reports a peer of `FORWARDED_ALLOW_IPS` as whatever address its X-Forwarded-For names, so
    such a peer outside the trusted proxies could pass for one of them."""
    value = os.environ.get(FORWARDED_VARIABLE, DEFAULT_FORWARDED)
    if value.strip() == "*":
        return f"{FORWARDED_VARIABLE}=* lets any client name its own address in X-Forwarded-For"
    try:
        forwarders = _networks(FORWARDED_VARIABLE, value)
    except InvalidInput as error:
        return str(error)
    trusted = trusted_proxies()
    for forwarder in forwarders:
        if not any(_within(forwarder, net) for net in trusted):
            return (
                f"{FORWARDED_VARIABLE} includes {forwarder}, outside {TRUSTED_PROXIES_VARIABLE}: a client there could "
                f"name a trusted proxy's address in X-Forwarded-For (set {FORWARDED_VARIABLE}= empty, or within "
                f"{TRUSTED_PROXIES_VARIABLE}; see docs/identity.md)"
            )
    return None


def startup_problem(mode: str) -> str | None:
    """Why the dashboard must not start in this identity mode ("proxy", "oidc", "local"), or None."""
    try:
        required = flag(REQUIRE_SIGNIN_VARIABLE)
        flag(ALLOW_LOCAL_MODE_VARIABLE)
        trusted_proxies()
    except InvalidInput as error:
        return str(error)
    if mode == "local" and required:
        return SIGNIN_REQUIRED
    if mode == "proxy":
        return _forwarding_problem()
    return None
