"""The local backend's loopback block: the ports it hands out for one bed never repeat."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ingressbed.backends.local_addresses import AddressBlock
from ingressbed.planes.base import Listen


@pytest.fixture
def block() -> Iterator[AddressBlock]:
    taken = AddressBlock()
    yield taken
    taken.release()


def test_ports_picked_together_are_all_different(block: AddressBlock):
    # Picked one at a time, two of 500 ports are the same port about ten times per run
    # (bind(0) draws from ~14,000 even ports); a bed's traffic and status ports once were.
    ports = block.free_ports(500)
    assert len(set(ports)) == len(ports) == 500


def test_ports_are_free_on_the_address_asked_for(block: AddressBlock):
    (port,) = block.free_ports(1, block.service)
    assert 0 < port < 65536
    assert block.free_ports(0) == []


def test_an_ingress_and_its_status_server_on_one_port_is_refused():
    with pytest.raises(ValueError, match="share port 30001"):
        Listen("127.9.9.1", 30001, 30001)
    assert Listen("127.9.9.2", 0, 30001).status_port == 30001  # no ingress: the Service proxy
