"""Disaster recovery in Osaka: what the recovery region holds (``mode``) and, for a pilot light, its addressing.

``copies``: the Osaka copies only (replicas, air-gapped vaults, keys). ``pilot-light``: in addition an Osaka network
ready to receive restored hosts: a Transit Gateway with the same segment tables and rules, reached from the city hall
over the segments' Direct Connect gateways, hub endpoints, each segment's DNS VPC, DNS Firewall, a spoke VPC, the
role security groups and the internal load balancer for each business system, and the analysts' catalog and
workgroup over the data lake replicas. Osaka has addresses of its own (distinct from Tokyo's), so both regions can
be routed at once: a drill runs while Tokyo serves, and nothing is re-advertised at failover.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from govcloud.config.base import MISSING, Model, Name, Network, Problem, Str
from govcloud.config.network import NetworkSettings, PrivateAsn, SegmentDns, _dns_problems

if TYPE_CHECKING:
    from govcloud.config.model import Config

MODES = ("copies", "pilot-light")


class OsakaSegment(Model):
    dns: SegmentDns
    """The segment's DNS VPC in Osaka: its CIDR and inbound IPs are Osaka's; the servers are the city's (the same)."""
    direct_connect_allowed_prefixes: Annotated[tuple[Network, ...], Field(min_length=1)]
    """What the Osaka Transit Gateway advertises to the city hall over the segment's Direct Connect gateway."""


class OsakaSpoke(Model):
    cidr: Network


class OsakaSystem(Model):
    certificate_arn: (
        Annotated[Str, Field(pattern=r"^arn:aws:acm:ap-northeast-3:[0-9]{12}:certificate/[0-9a-f-]{36}$")] | None
    ) = None
    """ACM certificate of the system's Osaka load balancer (ACM certificates are regional: Tokyo's cannot serve
    there). Required for a pilot light when a role has ``load_balancer``."""


class DisasterRecovery(Model):
    mode: Literal["copies", "pilot-light"] = "copies"
    """``copies`` or ``pilot-light`` (see the module). Hosts come back by restore jobs from the air-gapped vault
    into the pilot light's spokes; a template cannot launch them from those recovery points."""
    hub_cidr: Network | None = None
    transit_gateway_asn: PrivateAsn | None = None
    """Osaka's own: two Transit Gateways on one Direct Connect gateway must not share an ASN."""
    endpoint_services: tuple[Str, ...] = ()
    """The hub endpoints a restored host needs (a subset of ``network.endpoint_services``)."""
    s3_prefix_list_id: Annotated[Str, Field(pattern=r"^pl-[0-9a-f]{8,17}$")] | None = None
    """S3's prefix list in Osaka (aws ec2 describe-prefix-lists --region ap-northeast-3)."""
    s3_cidrs: tuple[Network, ...] = ()
    segments: dict[Name, OsakaSegment] = Field(default_factory=dict)
    spokes: dict[Name, OsakaSpoke] = Field(default_factory=dict)
    """One per business system's spoke."""
    systems: dict[Name, OsakaSystem] = Field(default_factory=dict)
    """What a business system's Osaka recovery needs besides its spoke: the certificate of its load balancer."""


def osaka_network(cfg: Config) -> NetworkSettings:
    """The pilot light's network, in the shape of ``[network]``: Osaka's addresses, the minimal endpoints, no VPN
    (the LGWAN backup VPN stays in Tokyo), and a spoke for each business system only."""
    dr = cfg.disaster_recovery
    net = cfg.network
    protected = {system.spoke for system in cfg.systems.values()}
    assert dr.hub_cidr and dr.transit_gateway_asn and dr.s3_prefix_list_id  # disaster_recovery_checks
    return net.model_copy(
        update={
            "hub_cidr": dr.hub_cidr,
            "transit_gateway_asn": dr.transit_gateway_asn,
            "endpoint_services": dr.endpoint_services,
            "s3_prefix_list_id": dr.s3_prefix_list_id,
            "s3_cidrs": dr.s3_cidrs,
            "segments": {
                name: seg.model_copy(
                    update={
                        "vpn": None,
                        "dns": dr.segments[name].dns,
                        "direct_connect_allowed_prefixes": dr.segments[name].direct_connect_allowed_prefixes,
                    }
                )
                for name, seg in net.segments.items()
            },
            "spokes": {
                name: spoke.model_copy(update={"cidr": dr.spokes[name].cidr, "endpoints_in_spoke": ()})
                for name, spoke in net.spokes.items()
                if name in protected
            },
        }
    )


def disaster_recovery_checks(cfg: Config) -> Iterator[Problem]:
    dr, net = cfg.disaster_recovery, cfg.network
    if dr.mode == "copies":
        return
    key = "disaster_recovery"
    for field_name in ("hub_cidr", "transit_gateway_asn", "s3_prefix_list_id"):
        if getattr(dr, field_name) is None:
            yield Problem(f"{key}.{field_name}", MISSING, "required for a pilot light")
    if not dr.s3_cidrs:
        yield Problem(f"{key}.s3_cidrs", MISSING, "required for a pilot light: the CIDRs of Osaka's S3 prefix list")
    if dr.transit_gateway_asn is not None and dr.transit_gateway_asn == net.transit_gateway_asn:
        yield Problem(
            f"{key}.transit_gateway_asn",
            dr.transit_gateway_asn,
            "must differ from network.transit_gateway_asn: both gateways associate with the same Direct Connect "
            "gateways",
        )
    for i, service in enumerate(dr.endpoint_services):
        if service not in net.endpoint_services:
            yield Problem(f"{key}.endpoint_services[{i}]", service, "not an endpoint service of [network]")
    for name in net.segments:
        if name not in dr.segments:
            yield Problem(f"{key}.segments.{name}", MISSING, "required for a pilot light: every segment has Osaka DNS")
    for name in dr.segments:
        if name not in net.segments:
            yield Problem(f"{key}.segments.{name}", name, f"not a segment; known: {', '.join(net.segments)}")
    protected = {system.spoke for system in cfg.systems.values()}
    for name in sorted(protected - set(dr.spokes)):
        yield Problem(
            f"{key}.spokes.{name}", MISSING, "required for a pilot light: the Osaka CIDR of this system's spoke"
        )
    for name in sorted(set(dr.spokes) - protected):
        yield Problem(f"{key}.spokes.{name}", name, "not the spoke of a business system (only those are recovered)")
    yield from _systems(cfg)
    yield from _addresses(cfg)


def _systems(cfg: Config) -> Iterator[Problem]:
    """Every load-balanced system has an Osaka certificate, in its own account; no entry names another system."""
    dr = cfg.disaster_recovery
    for name in sorted(set(dr.systems) - set(cfg.systems)):
        known = ", ".join(cfg.systems)
        yield Problem(f"disaster_recovery.systems.{name}", name, f"not a business system; known: {known}")
    for name, system in cfg.systems.items():
        if system.balanced_role is None:
            continue
        key = f"disaster_recovery.systems.{name}.certificate_arn"
        arn = dr.systems[name].certificate_arn if name in dr.systems else None
        if arn is None:
            yield Problem(
                key,
                MISSING,
                "required for a pilot light: the Osaka load balancer listens with TLS only, with a certificate "
                "issued in ap-northeast-3 (aws acm request-certificate --region ap-northeast-3)",
            )
        elif system.account in cfg.accounts and arn.split(":")[4] != cfg.account_id(system.account):
            yield Problem(
                key, arn, f"must be in the system's account {cfg.account_id(system.account)} ({system.account})"
            )


def _addresses(cfg: Config) -> Iterator[Problem]:
    """Osaka's networks overlap neither each other nor anything Tokyo or the city hall uses."""
    dr = cfg.disaster_recovery
    tokyo = [ipaddress.IPv4Network(c) for c in cfg.known_cidrs]
    osaka: list[tuple[str, ipaddress.IPv4Network]] = []
    if dr.hub_cidr:
        osaka.append(("disaster_recovery.hub_cidr", ipaddress.IPv4Network(dr.hub_cidr)))
    osaka += [
        (f"disaster_recovery.segments.{n}.dns.cidr", ipaddress.IPv4Network(s.dns.cidr)) for n, s in dr.segments.items()
    ]
    osaka += [(f"disaster_recovery.spokes.{n}.cidr", ipaddress.IPv4Network(s.cidr)) for n, s in dr.spokes.items()]
    for i, (key, network) in enumerate(osaka):
        for other_key, other in osaka[:i]:
            if network.overlaps(other):
                yield Problem(key, str(network), f"overlaps {other_key} ({other})")
        for used in tokyo:
            if network.overlaps(used):
                yield Problem(
                    key,
                    str(network),
                    f"overlaps {used}, used in Tokyo or the city hall: Osaka needs addresses of its own",
                )
    zones = len(cfg.regions.dr.availability_zones)
    for name, seg in dr.segments.items():
        if name in cfg.network.segments:
            osaka_segment = cfg.network.segments[name].model_copy(update={"dns": seg.dns})
            yield from _dns_problems(f"disaster_recovery.segments.{name}.dns", osaka_segment, zones)
