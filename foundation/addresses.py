"""The addresses a merchant URL must never reach, checked before any connection.

Two layers, so neither a gap in Python's tables nor one in ours lets an address through:
- `ipaddress`: anything that is not `is_global` (Python follows the IANA special-purpose
  registries, but how closely depends on the CPython release);
- `REFUSED_NETWORKS`: the IANA IPv4 and IPv6 special-purpose registries written out, with
  the RFC behind each entry, plus the ranges that are "global" on paper yet lead inside
  (CGNAT, 6to4 relays, deprecated site-local).

Translation prefixes (NAT64, 6to4, Teredo) embed an IPv4 address that a gateway would
forward to; each is refused whole, and the embedded IPv4 address is judged too, so the
answer does not depend on the prefix staying in the table.

`install_delivery_filter()` hands the same table to requests-hardened, which judges the
address each delivery actually connects to.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from requests_hardened import ip_filter

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_TABLE: tuple[tuple[str, str], ...] = (
    # IPv4 (IANA IPv4 Special-Purpose Address Registry)
    ("0.0.0.0/8", "'this network', RFC 791 / RFC 1122 s3.2.1.3"),
    ("10.0.0.0/8", "private, RFC 1918"),
    ("100.64.0.0/10", "shared address space (CGNAT), RFC 6598"),
    ("127.0.0.0/8", "loopback, RFC 1122 s3.2.1.3"),
    ("169.254.0.0/16", "link-local (cloud metadata lives here), RFC 3927"),
    ("172.16.0.0/12", "private, RFC 1918"),
    ("192.0.0.0/24", "IETF protocol assignments, RFC 6890 s2.1"),
    ("192.0.2.0/24", "documentation TEST-NET-1, RFC 5737"),
    ("192.88.99.0/24", "6to4 relay anycast, RFC 3068 (deprecated by RFC 7526)"),
    ("192.168.0.0/16", "private, RFC 1918"),
    ("198.18.0.0/15", "benchmarking, RFC 2544"),
    ("198.51.100.0/24", "documentation TEST-NET-2, RFC 5737"),
    ("203.0.113.0/24", "documentation TEST-NET-3, RFC 5737"),
    ("224.0.0.0/4", "multicast, RFC 5771"),
    ("240.0.0.0/4", "reserved, RFC 1112 s4"),
    ("255.255.255.255/32", "limited broadcast, RFC 919 / RFC 8190"),
    # IPv6 (IANA IPv6 Special-Purpose Address Registry)
    ("::/128", "unspecified, RFC 4291"),
    ("::1/128", "loopback, RFC 4291"),
    ("::ffff:0:0/96", "IPv4-mapped, RFC 4291 (embedded IPv4 judged too)"),
    ("64:ff9b::/96", "NAT64 well-known prefix, RFC 6052 (embedded IPv4 judged too)"),
    ("64:ff9b:1::/48", "NAT64 local-use prefix, RFC 8215"),
    ("100::/64", "discard-only, RFC 6666"),
    ("2001::/23", "IETF protocol assignments, RFC 2928 (incl. Teredo 2001::/32, RFC 4380)"),
    ("2001:db8::/32", "documentation, RFC 3849"),
    ("2002::/16", "6to4, RFC 3056 (embedded IPv4 judged too)"),
    ("3fff::/20", "documentation, RFC 9637"),
    ("5f00::/16", "segment routing SIDs, RFC 9602"),
    ("fc00::/7", "unique local, RFC 4193"),
    ("fe80::/10", "link-local, RFC 4291"),
    ("fec0::/10", "site-local, deprecated by RFC 3879 but still routed inside some sites"),
    ("ff00::/8", "multicast, RFC 4291"),
)
REFUSED_NETWORKS: tuple[Network, ...] = tuple(ipaddress.ip_network(net) for net, _why in _TABLE)

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address an IPv6 translation address leads to, if it carries one."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # (server, client): the client is where traffic goes
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)  # RFC 6052: last 32 bits
    return None


def address_is_refused(ip: IPAddress) -> bool:
    """Return True for any address a merchant URL must never reach."""
    if ip.version == 6:
        inner = embedded_ipv4(ip)
        if inner is not None and address_is_refused(inner):
            return True
    return not ip.is_global or any(ip in net for net in REFUSED_NETWORKS)


def url_host_is_refused(url: str) -> bool | None:
    """Resolve a URL's host the way the HTTP client would and judge every address.

    Returns True when any address is refused, False when all are public, and None when
    the name does not resolve (accepted now; judged again at every delivery). IP literals
    in every spelling (decimal `2130706433`, hex `0x7f.1`, octal `0177.0.0.1`, IPv4-mapped
    IPv6) go through `getaddrinfo` too, which reads them exactly as a connection would.
    """
    host = urlsplit(url).hostname
    if not host:
        return True
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return None
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if address_is_refused(address):
            return True
    return False


def install_delivery_filter() -> None:
    """Give requests-hardened our table for the address each delivery connects to.

    Its own check is `is_private or is_multicast or in EXTRA_BLOCKED_NET_RANGES`, which
    lets site-local (fec0::/10) and documentation ranges through; the library reads that
    module-level tuple at every check, so widening it is the supported seam.
    """
    current = tuple(ip_filter.EXTRA_BLOCKED_NET_RANGES)
    ip_filter.EXTRA_BLOCKED_NET_RANGES = current + tuple(
        net for net in REFUSED_NETWORKS if net not in current
    )
