"""Which media addresses the kernel fetches: loopback or private ones only for a
relay there.

A relay names the links the kernel downloads. Left unchecked, a relay on the
internet could make the kernel fetch its own loopback ports (the Jupyter
server's API) or the private network's machines. So a link is fetched only when
it is no more local than the relay: loopback links for a loopback relay, private
ones for a relay on loopback or the private network, public ones always
(docs/protocol.md, "Promises"). Names are resolved first.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Literal

import httpx

__all__ = ["Locality", "locality", "may_fetch"]

Locality = Literal["public", "private", "loopback"]
_RANK: dict[Locality, int] = {"public": 0, "private": 1, "loopback": 2}


def _of_address(text: str) -> Locality | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if address.is_loopback:
        return "loopback"
    if address.is_private or address.is_link_local or address.is_unspecified:
        return "private"
    return "public"


async def locality(host: str) -> Locality:
    """The most local of the addresses ``host`` names (a name is resolved)."""
    known = _of_address(host)
    if known is not None:
        return known
    if host == "localhost" or host.endswith(".localhost"):
        return "loopback"
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return "public"  # unresolvable: the fetch itself fails, in one sentence
    places = [_of_address(str(info[4][0])) or "public" for info in found]
    return max(places, key=lambda place: _RANK[place], default="public")


async def may_fetch(url: str, relay_url: str) -> Locality | None:
    """None if a relay at ``relay_url`` may fetch ``url``; else where it is."""
    try:
        host, relay_host = httpx.URL(url).host, httpx.URL(relay_url).host
    except httpx.InvalidURL:
        return None  # the download refuses it in its own sentence
    media, relay = await locality(host), await locality(relay_host)
    return None if _RANK[media] <= _RANK[relay] else media
