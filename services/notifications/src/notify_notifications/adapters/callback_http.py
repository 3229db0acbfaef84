"""Posting one callback to a service's endpoint: the SSRF guard, then the POST with its bearer token.

The guard resolves the host at send time and refuses the callback if any address it resolves to is not globally
routable (private, loopback, link-local, shared 100.64/10, IPv4-mapped forms of those...), multicast, reserved or
unspecified, unless that address is inside a network the settings allow
(development allows loopback). The request then goes to the address that was checked (the host kept in the ``Host``
header and, for https, in SNI and certificate verification), so a DNS answer that changes between the check and the
connection (rebinding) cannot point it elsewhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetRefused(Exception):
    """The URL may not be called (scheme, or an address in a refused range): the callback fails, never retried."""


@dataclass(frozen=True)
class Outcome:
    """``status_code`` is None when no answer came (connection error or timeout: ``error`` says which)."""

    status_code: int | None
    error: str | None = None


def parse_networks(text: str) -> tuple[IpNetwork, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _refused_range(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Anything not globally routable (private, loopback, link-local, shared 100.64/10...), multicast, reserved or
    unspecified. An IPv6 address that is only another form of an IPv4 one (IPv4-mapped, or NAT64 as DNS64 answers on
    IPv6-only networks) is judged by that IPv4 address; a 6to4 or Teredo one also by the IPv4 addresses it carries."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return _refused_range(address.ipv4_mapped)
        if address in _NAT64:
            return _refused_range(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        carried = [address.sixtofour] if address.sixtofour is not None else []
        carried += list(address.teredo or ())
        if any(_refused_range(a) for a in carried):
            return True
    return not address.is_global or address.is_multicast or address.is_reserved or address.is_unspecified


async def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass  # a name, not an address
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConnectionError(f"cannot resolve host: {exc}") from exc
    if not infos:
        raise ConnectionError("host resolves to no address")
    return [ipaddress.ip_address(info[4][0]) for info in infos]


async def resolve_allowed(host: str, port: int, allowed: tuple[IpNetwork, ...]) -> str:
    """The address to connect to: the host's first address, if every address it resolves to may be called."""
    addresses = await _addresses(host, port)
    for address in addresses:
        if _refused_range(address) and not any(address in network for network in allowed):
            raise TargetRefused(f"refused: the host resolves to a non-public address ({address})")
    return str(addresses[0])


class CallbackPoster:
    """Posts callbacks, keeping connections alive per host name: the connection pool is keyed by the pinned address,
    so hosts sharing an address (a CDN) must not share a client, or one host's TLS connection would carry another's
    request."""

    def __init__(
        self,
        *,
        timeout: float,
        allowed_networks: tuple[IpNetwork, ...],
        allow_http: bool,
        max_hosts: int = 256,
    ) -> None:
        self.allowed_networks = allowed_networks
        self.allow_http = allow_http
        self.timeout = timeout
        self.max_hosts = max_hosts
        self._clients: OrderedDict[str, httpx.AsyncClient] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    def _client(self, host: str) -> httpx.AsyncClient:
        client = self._clients.pop(host, None) or httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=4),
        )
        self._clients[host] = client  # most recently used last
        while len(self._clients) > self.max_hosts:
            _, oldest = self._clients.popitem(last=False)
            # Closed in the background, held until done (the loop keeps only weak references to tasks).
            closing = asyncio.get_running_loop().create_task(oldest.aclose())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
        return client

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def post(self, url: str, token: str, payload: dict[str, Any]) -> Outcome:
        """POST the payload, within the timeout in all (name resolution, connection, a response however slowly it
        trickles). Raises ``TargetRefused`` for a URL the guard refuses or that cannot be called at all; answers the
        status code, or no code with the error for a connection failure or timeout."""
        parts = urlsplit(url)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise TargetRefused("refused: the URL's port is not valid") from exc
        if parts.scheme not in (("https", "http") if self.allow_http else ("https",)) or not parts.hostname:
            raise TargetRefused(
                f"refused: {parts.scheme or 'no'} scheme" if parts.hostname else "refused: no host"
            )
        try:
            async with asyncio.timeout(self.timeout):
                return await self._post(parts, port, token, payload)
        except TimeoutError:
            return Outcome(None, "timeout")

    async def _post(self, parts: SplitResult, port: int, token: str, payload: dict[str, Any]) -> Outcome:
        assert parts.hostname is not None
        try:
            address = await resolve_allowed(parts.hostname, port, self.allowed_networks)
        except ConnectionError as exc:
            return Outcome(None, str(exc)[:200])
        pinned = address if ":" not in address else f"[{address}]"
        netloc = f"{pinned}:{parts.port}" if parts.port else pinned
        host_header = parts.netloc.rsplit("@", 1)[-1]
        extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
        try:
            response = await self._client(parts.hostname).post(
                urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
                json=payload,
                headers={"Authorization": f"Bearer {token}", "Host": host_header},
                extensions=extensions,
            )
        except httpx.TimeoutException:
            return Outcome(None, "timeout")
        except httpx.HTTPError as exc:
            return Outcome(None, type(exc).__name__)
        return Outcome(response.status_code)
