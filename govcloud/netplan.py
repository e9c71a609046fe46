"""Deterministic subnet layout of the hub and spoke VPCs, computed from config alone (no CDK import).

Config validation uses it (fixed IPs must lie in the right subnets) and the VPC constructs pass the same
tiers to ``ec2.Vpc``, which allocates them in the same order; a test checks that the two agree.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class Tier:
    name: str
    prefix_offset: int | None = None
    """Mask relative to the VPC's prefix (None: ``fixed_mask``)."""
    fixed_mask: int | None = None

    def mask(self, vpc_prefix: int) -> int:
        if self.fixed_mask is not None:
            return self.fixed_mask
        assert self.prefix_offset is not None
        return vpc_prefix + self.prefix_offset


# Largest subnets first, so sequential allocation never needs padding for alignment.
HUB_TIERS = (Tier("Endpoints", fixed_mask=26), Tier("Attachments", fixed_mask=28))
# A segment's DNS VPC: its Resolver endpoints and its Transit Gateway attachment (a /26 for two zones).
DNS_TIERS = (Tier("Resolver", fixed_mask=28), Tier("Attachments", fixed_mask=28))
SPOKE_TIERS = (Tier("Application", prefix_offset=3), Tier("Data", prefix_offset=4), Tier("Attachments", fixed_mask=28))
HUB_MAX_PREFIX = 23
SPOKE_PREFIX_RANGE = (16, 22)


def allocate(cidr: str, tiers: tuple[Tier, ...], zone_count: int) -> dict[str, list[ipaddress.IPv4Network]]:
    """Subnets per tier, one per zone, allocated in tier order then zone order from the start of ``cidr``."""
    vpc = ipaddress.IPv4Network(cidr)
    cursor = int(vpc.network_address)
    layout: dict[str, list[ipaddress.IPv4Network]] = {}
    for tier in tiers:
        mask = tier.mask(vpc.prefixlen)
        size = 2 ** (32 - mask)
        subnets = []
        for _ in range(zone_count):
            cursor = (cursor + size - 1) // size * size  # align
            subnet = ipaddress.IPv4Network((cursor, mask))
            if not subnet.subnet_of(vpc):
                raise ValueError(f"{cidr} is too small for {zone_count} zones of the {tier.name} tier")
            subnets.append(subnet)
            cursor += size
        layout[tier.name] = subnets
    return layout


def usable(subnet: ipaddress.IPv4Network, address: ipaddress.IPv4Address) -> bool:
    """AWS reserves the first four addresses and the last one of every subnet."""
    offset = int(address) - int(subnet.network_address)
    return address in subnet and 4 <= offset < subnet.num_addresses - 1


def merge(cidrs: list[str] | set[str]) -> list[str]:
    """Adjacent and nested networks merged into the fewest CIDRs (one route, ACL entry or rule each), sorted."""
    return sorted(str(n) for n in ipaddress.collapse_addresses(ipaddress.IPv4Network(c) for c in cidrs))


# Network ACL rule numbers: the lowest ones are left for fixed entries; AWS accepts up to 32766.
ACL_RULE_NUMBERS = range(1000, 32767)


def acl_rule_numbers(keys: list[str] | set[str]) -> dict[str, int]:
    """A rule number for each entry of one network ACL direction, derived from the entry's key (what it admits),
    not from its position: adding or removing an entry leaves the others' numbers alone, so CloudFormation never
    replaces them (and a replacement, created before its old self is deleted, would collide on the number).

    Numbers come from a hash of the key; on the rare collision the later key (in sorted order) takes the next
    free number. Only ALLOW entries are numbered this way: their order does not change what they admit."""
    numbers: dict[str, int] = {}
    taken: set[int] = set()
    for key in sorted(set(keys)):
        digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
        number = ACL_RULE_NUMBERS[digest % len(ACL_RULE_NUMBERS)]
        while number in taken:
            number = ACL_RULE_NUMBERS[(number - ACL_RULE_NUMBERS.start + 1) % len(ACL_RULE_NUMBERS)]
        taken.add(number)
        numbers[key] = number
    return numbers
