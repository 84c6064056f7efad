"""Which address Envoy takes as the client, as Envoy Gateway configures it (pure).

Envoy Gateway writes the client-address settings of the HTTP connection manager from a
ClientTrafficPolicy's ``clientIPDetection``:

- **no clientIPDetection** (the default): ``use_remote_address: true`` with no trusted
  hops. The client is the **TCP peer**, whatever X-Forwarded-For says. Behind a proxy
  or SNAT every client then hashes as one address: the trap this model makes visible.
- **xForwardedFor.numTrustedHops: N** (N >= 1): ``use_remote_address: false`` and the
  ``xff`` original-IP-detection extension with ``xff_num_trusted_hops: N - 1``. The client
  is the N-th X-Forwarded-For entry from the right (N = 1: the rightmost), read before
  Envoy appends anything; repeated X-Forwarded-For lines count as one comma-joined list.
  The entry, trimmed, must be a bare IP; if it is not, or the list is too short, or
  X-Forwarded-For is absent, the client is the TCP peer.
- **xForwardedFor.trustedCIDRs: [...]**: the ``xff`` extension with ``xff_trusted_cidrs``.
  X-Forwarded-For counts only when the TCP peer is inside a trusted range; then the client
  is the first entry from the right that is not trusted, or the leftmost when every entry
  is trusted; an entry that is no IP makes it the TCP peer. ``["0.0.0.0/0", "::/0"]``
  takes the leftmost address, as ingress-nginx's ``use-forwarded-headers`` does.

The bed sends its simulated clients as one X-Forwarded-For entry, so ``numTrustedHops: 1``
and the trust-everything CIDRs give the same client there.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ingressbed.errors import ConfigError
from ingressbed.placement.envoy_address import parse_ip

#: The CIDRs that make Envoy take the leftmost X-Forwarded-For address, as ingress-nginx.
TRUST_EVERYONE: tuple[str, ...] = ("0.0.0.0/0", "::/0")


def last_address(xff: str, skip: int) -> str | None:
    """Envoy's reading of X-Forwarded-For with ``skip`` trusted hops.

    Drops ``skip`` entries from the right, then takes the text after the last remaining
    comma (all of it without a comma; a trailing comma leaves the comma in), trimmed.

    Args:
        xff: the joined X-Forwarded-For value.
        skip: entries to drop from the right.

    Returns:
        The address in Envoy's text form, or None.
    """
    text = xff
    for _ in range(skip):
        comma = text.rfind(",")
        if comma < 0:
            return None
        text = text[:comma]
    comma = text.rfind(",")
    if comma >= 0 and comma + 1 < len(text):
        text = text[comma + 1 :]
    return parse_ip(text.strip(" \t"))


def last_untrusted_address(xff: str, networks: tuple[ipaddress._BaseNetwork, ...]) -> str | None:
    """The first X-Forwarded-For entry from the right outside every trusted range.

    Args:
        xff: the joined X-Forwarded-For value.
        networks: the trusted ranges.

    Returns:
        That entry, or the leftmost when all are trusted; None when an entry is no IP.
    """
    found: str | None = None
    for entry in reversed(xff.split(",")):
        found = parse_ip(entry.strip(" \t"))
        if found is None:
            return None
        if not _trusted(found, networks):
            return found
    return found


def _trusted(ip: str, networks: tuple[ipaddress._BaseNetwork, ...]) -> bool:
    address = ipaddress.ip_address(ip)
    return any(address.version == net.version and address in net for net in networks)


@dataclass(frozen=True)
class ClientDetection:
    """A ClientTrafficPolicy's ``clientIPDetection``, as far as the client address goes.

    ``ClientDetection()`` is Envoy Gateway's default (the TCP peer);
    ``ClientDetection(trusted_hops=1)`` is ``xForwardedFor.numTrustedHops: 1``;
    ``ClientDetection(trusted_cidrs=TRUST_EVERYONE)`` is ``xForwardedFor.trustedCIDRs``.
    """

    trusted_hops: int | None = None
    trusted_cidrs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.trusted_hops is not None and self.trusted_cidrs:
            raise ConfigError("clientIPDetection takes numTrustedHops or trustedCIDRs, not both")
        if self.trusted_hops is not None and self.trusted_hops < 1:
            raise ConfigError(
                f"numTrustedHops {self.trusted_hops}: give 1 or more (leave it out for the "
                "TCP peer, Envoy Gateway's default)"
            )
        self.networks()  # checks the CIDRs

    @property
    def mode(self) -> str:
        """``tcp-peer``, ``xff-hops`` or ``xff-cidrs``."""
        if self.trusted_hops is not None:
            return "xff-hops"
        return "xff-cidrs" if self.trusted_cidrs else "tcp-peer"

    def networks(self) -> tuple[ipaddress._BaseNetwork, ...]:
        """The trusted ranges.

        Raises:
            ConfigError: a range that is not a CIDR.
        """
        found = []
        for cidr in self.trusted_cidrs:
            try:
                found.append(ipaddress.ip_network(cidr, strict=False))
            except ValueError as exc:
                raise ConfigError(
                    f"trustedCIDRs: {cidr!r} is not a CIDR (e.g. 10.0.0.0/8)"
                ) from exc
        return tuple(found)

    def describe(self) -> str:
        """The ClientTrafficPolicy setting this models, in words."""
        if self.mode == "xff-hops":
            return f"clientIPDetection.xForwardedFor.numTrustedHops: {self.trusted_hops}"
        if self.mode == "xff-cidrs":
            return (
                f"clientIPDetection.xForwardedFor.trustedCIDRs: [{', '.join(self.trusted_cidrs)}]"
            )
        return "no clientIPDetection (Envoy Gateway's default: the TCP peer)"

    def client(self, xff: str | None, peer: str) -> str:
        """The address Envoy hashes for ``source-ip``.

        Args:
            xff: the X-Forwarded-For lines joined with ``,``, or None without any.
            peer: the TCP peer's IP in Envoy's text form ("" when unknown).

        Returns:
            The client address in Envoy's text form.

        Raises:
            ConfigError: the answer is the TCP peer and the request names none.
        """
        found: str | None = None
        if self.mode == "xff-hops" and xff is not None:
            found = last_address(xff, (self.trusted_hops or 1) - 1)
        elif self.mode == "xff-cidrs" and xff is not None:
            networks = self.networks()
            if not peer:
                raise ConfigError(
                    "trustedCIDRs: X-Forwarded-For counts only from a trusted TCP peer, and "
                    "the request names no peer: give peer (IP or IP:PORT)"
                )
            if _trusted(peer, networks):
                found = last_untrusted_address(xff, networks)
        if found is not None:
            return found
        if peer:
            return peer
        if self.mode == "tcp-peer":
            raise ConfigError(
                "source-ip hashes the TCP peer without a clientIPDetection (Envoy Gateway's "
                "default) and the request names none: give --peer (peer in a --batch line), "
                "or --trusted-hops N to read X-Forwarded-For"
            )
        raise ConfigError(
            f"source-ip falls back to the TCP peer ({self.describe()}: no usable "
            "X-Forwarded-For address) and the request names none: give --peer (peer in a "
            "--batch line)"
        )
