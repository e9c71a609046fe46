"""The closed network: the hub, the segments of 三層分離 with their links, and the spokes."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field

from govcloud import netplan
from govcloud.config.base import (
    DOMAIN,
    MISSING,
    Int,
    IpAddress,
    Model,
    Name,
    Network,
    Problem,
    Str,
    account_reference,
)

if TYPE_CHECKING:
    from govcloud.config.model import Config

MY_NUMBER_SEGMENT = "mynumber"
"""The My Number-linked segment (マイナンバー利用事務系): no internet path, no other segment, ever."""

# Network ACL rules per direction: the AWS default quota (adjustable to 40 on request).
NACL_RULES_PER_DIRECTION = 20

# Interface endpoint services a spoke may need, by the service part of com.amazonaws.<region>.<service>.
ENDPOINT_SERVICES = (
    "ssm", "ssmmessages", "ec2messages", "ec2", "kms", "logs", "monitoring", "sts", "secretsmanager", "sqs", "sns",
    "events", "glue", "athena", "lakeformation", "backup", "execute-api", "elasticloadbalancing", "autoscaling",
)  # fmt: skip


def _private_asn(value: int) -> int:
    if not (64512 <= value <= 65534 or 4200000000 <= value <= 4294967294):
        raise ValueError("must be a private ASN: 64512-65534 or 4200000000-4294967294")
    return value


PrivateAsn = Annotated[Int, AfterValidator(_private_asn)]


class Vpn(Model):
    """Site-to-site VPN over the internet to the city's customer gateway: the backup path, with BGP."""

    customer_gateway_ip: IpAddress
    customer_gateway_asn: PrivateAsn


class SegmentDns(Model):
    """The segment's own DNS: a small VPC in the network account, attached in the segment, with a Resolver inbound
    endpoint for the segment's city hall side and forwarding to the segment's own DNS servers. Resolver rules act
    per VPC, so one resolver for two segments would answer each with the other's servers."""

    cidr: Network
    """The DNS VPC: Resolver and attachment subnets of /28 per zone (a /26 for two zones, a /25 for three)."""
    inbound_ips: Annotated[tuple[IpAddress, ...], Field(min_length=2)]
    """Fixed IPs of the inbound endpoint, one per zone, in the DNS VPC's Resolver subnets: the segment's DNS servers
    forward AWS private names to them."""
    servers: Annotated[tuple[IpAddress, ...], Field(min_length=1)]
    """The segment's DNS servers on the city hall side, which the forwarded domains go to."""


class Segment(Model):
    """A network segment of 三層分離 with its own Transit Gateway route table, its own links and its own DNS."""

    on_premises_cidrs: Annotated[tuple[Network, ...], Field(min_length=1)]
    direct_connect_gateway_id: Annotated[
        Str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    ]
    direct_connect_allowed_prefixes: Annotated[tuple[Network, ...], Field(min_length=1)]
    vpn: Vpn | None = None
    dns: SegmentDns | None = None
    """Without it, the segment's spokes resolve AWS names only and nothing is forwarded for them."""


class Spoke(Model):
    account: Name
    segment: Name
    cidr: Network
    endpoints_in_spoke: tuple[Str, ...] = ()
    """Interface endpoints this spoke gets in its own VPC instead of using the hub's."""


class NetworkSettings(Model):
    account: Name
    hub_cidr: Network
    transit_gateway_asn: PrivateAsn
    endpoint_services: tuple[Str, ...]
    forward_domains: tuple[Annotated[Str, Field(pattern=DOMAIN)], ...] = ()
    """Forwarded from each segment's VPCs to that segment's own DNS servers (``segments.<s>.dns.servers``)."""
    dns_allowed_domains: tuple[Annotated[Str, Field(pattern=DOMAIN)], ...] = ()
    dns_delivery: Literal["ram", "profile"]
    s3_prefix_list_id: Annotated[Str, Field(pattern=r"^pl-[0-9a-f]{8,17}$")]
    """AWS-managed prefix list of S3 in the primary region, for security groups (aws ec2 describe-prefix-lists)."""
    s3_cidrs: Annotated[tuple[Network, ...], Field(min_length=1)]
    """The CIDRs of that prefix list, for network ACLs, which cannot name a prefix list
    (aws ec2 get-managed-prefix-list-entries --prefix-list-id <s3_prefix_list_id>)."""
    allowed_segment_pairs: tuple[tuple[Str, Str], ...] = ()
    segments: Annotated[dict[Name, Segment], Field(min_length=1)]
    spokes: dict[Name, Spoke] = Field(default_factory=dict)


# ----- checks across keys -----


def network_checks(cfg: Config) -> Iterator[Problem]:
    net = cfg.network
    zones = len(cfg.regions.primary.availability_zones)
    yield from account_reference("network.account", net.account, cfg.accounts)
    for i, service in enumerate(net.endpoint_services):
        if service not in ENDPOINT_SERVICES:
            yield Problem(
                f"network.endpoint_services[{i}]", service, f"unknown; allowed: {', '.join(ENDPOINT_SERVICES)}"
            )
    for i, pair in enumerate(net.allowed_segment_pairs):
        for member in pair:
            if member not in net.segments:
                yield Problem(f"network.allowed_segment_pairs[{i}]", list(pair), f"unknown segment {member!r}")
        if len(pair) == 2 and pair[0] == pair[1]:
            yield Problem(f"network.allowed_segment_pairs[{i}]", list(pair), "a segment always reaches itself")
        elif MY_NUMBER_SEGMENT in pair:
            yield Problem(
                f"network.allowed_segment_pairs[{i}]",
                list(pair),
                "the My Number segment talks to no other segment (三層分離): remove the pair",
            )
    mynumber = net.segments.get(MY_NUMBER_SEGMENT)
    if mynumber is not None and mynumber.vpn is not None:
        yield Problem(
            f"network.segments.{MY_NUMBER_SEGMENT}.vpn",
            MISSING,
            "the My Number segment never rides the internet, not even encrypted: Direct Connect is its only link "
            "(三層分離); remove the vpn",
        )

    # Address plan: hub layout, each segment's DNS VPC and its fixed resolver IPs, no overlaps anywhere.
    hub = ipaddress.IPv4Network(net.hub_cidr)
    if hub.prefixlen > netplan.HUB_MAX_PREFIX:
        yield Problem("network.hub_cidr", net.hub_cidr, f"the hub needs at least a /{netplan.HUB_MAX_PREFIX}")
    for name, seg in net.segments.items():
        if seg.dns is not None:
            yield from _dns_problems(f"network.segments.{name}.dns", seg, zones)
    networks: list[tuple[str, ipaddress.IPv4Network]] = [("network.hub_cidr", hub)]
    for name, seg in net.segments.items():
        if seg.dns is not None:
            networks.append((f"network.segments.{name}.dns.cidr", ipaddress.IPv4Network(seg.dns.cidr)))
    for name, spoke in net.spokes.items():
        networks.append((f"network.spokes.{name}.cidr", ipaddress.IPv4Network(spoke.cidr)))
    for name, seg in net.segments.items():
        for i, cidr in enumerate(seg.on_premises_cidrs):
            networks.append((f"network.segments.{name}.on_premises_cidrs[{i}]", ipaddress.IPv4Network(cidr)))
    for i, (key_a, a) in enumerate(networks):
        for key_b, b in networks[i + 1 :]:
            if a.overlaps(b):
                yield Problem(key_b, str(b), f"overlaps {key_a} ({a})")

    # Spokes.
    low, high = netplan.SPOKE_PREFIX_RANGE
    for name, spoke in net.spokes.items():
        key = f"network.spokes.{name}"
        yield from account_reference(f"{key}.account", spoke.account, cfg.accounts)
        if spoke.segment not in net.segments:
            yield Problem(f"{key}.segment", spoke.segment, f"unknown segment; known: {', '.join(net.segments)}")
        prefix = ipaddress.IPv4Network(spoke.cidr).prefixlen
        if not low <= prefix <= high:
            yield Problem(f"{key}.cidr", spoke.cidr, f"a spoke VPC is a /{low} to a /{high}")
        if spoke.segment in net.segments and spoke.account in cfg.accounts:
            # The application tier's inbound ACL: the VPC, HTTPS and returns from each reachable network, S3 returns.
            entries = 1 + 2 * len(cfg.reachable_from(name)) + len(net.s3_cidrs)
            if entries > NACL_RULES_PER_DIRECTION:
                yield Problem(
                    f"{key}.segment",
                    spoke.segment,
                    f"the spoke's network ACL would need {entries} inbound rules (AWS allows "
                    f"{NACL_RULES_PER_DIRECTION} by default): give the segment's spokes CIDRs under one supernet, "
                    "or raise the quota and this limit together",
                )
        for i, service in enumerate(spoke.endpoints_in_spoke):
            if service not in ENDPOINT_SERVICES:
                yield Problem(
                    f"{key}.endpoints_in_spoke[{i}]", service, f"unknown; allowed: {', '.join(ENDPOINT_SERVICES)}"
                )

    # Links: each Direct Connect gateway and each customer gateway serves exactly one segment.
    dx_owner: dict[str, str] = {}
    vpn_owner: dict[str, str] = {}
    for name, seg in net.segments.items():
        key = f"network.segments.{name}"
        if seg.direct_connect_gateway_id in dx_owner:
            other = dx_owner[seg.direct_connect_gateway_id]
            yield Problem(
                f"{key}.direct_connect_gateway_id",
                seg.direct_connect_gateway_id,
                f"already the link of segment {other!r}: a link shared by two segments would merge their routes",
            )
        dx_owner.setdefault(seg.direct_connect_gateway_id, name)
        if seg.vpn is not None:
            ip = seg.vpn.customer_gateway_ip
            if ip in vpn_owner:
                yield Problem(
                    f"{key}.vpn.customer_gateway_ip",
                    ip,
                    f"already the VPN of segment {vpn_owner[ip]!r}: a link shared by two segments would merge "
                    "their routes",
                )
            vpn_owner.setdefault(ip, name)
            if seg.vpn.customer_gateway_asn == net.transit_gateway_asn:
                yield Problem(f"{key}.vpn.customer_gateway_asn", seg.vpn.customer_gateway_asn, "equals the TGW ASN")
        reachable = [ipaddress.IPv4Network(cidr) for cidr in cfg.segment_spoke_cidrs(name, with_allowed=True)]
        if seg.dns is not None:
            reachable.append(ipaddress.IPv4Network(seg.dns.cidr))
        for i, allowed_prefix in enumerate(seg.direct_connect_allowed_prefixes):
            advertised = ipaddress.IPv4Network(allowed_prefix)
            if advertised.overlaps(hub):
                yield Problem(
                    f"{key}.direct_connect_allowed_prefixes[{i}]",
                    allowed_prefix,
                    "the hub is shared by every segment and routes to none of their city hall networks: advertise "
                    "the segment's DNS VPC (dns.cidr) and its spokes",
                )
            elif not any(advertised.subnet_of(r) for r in reachable):
                yield Problem(
                    f"{key}.direct_connect_allowed_prefixes[{i}]",
                    allowed_prefix,
                    "not inside this segment's DNS VPC or spokes: the link would advertise another segment",
                )
        if seg.dns is not None and not any(
            ipaddress.IPv4Network(seg.dns.cidr).subnet_of(ipaddress.IPv4Network(p))
            for p in seg.direct_connect_allowed_prefixes
        ):
            yield Problem(
                f"{key}.direct_connect_allowed_prefixes",
                list(seg.direct_connect_allowed_prefixes),
                f"add the DNS VPC {seg.dns.cidr}: the segment's DNS servers reach its inbound endpoint over this link",
            )


def _dns_problems(key: str, seg: Segment, zones: int) -> Iterator[Problem]:
    """A segment's DNS VPC: its layout fits, the inbound IPs lie in its Resolver subnets in two zones at least, and
    its servers are on the segment's own side (forwarding to another segment's servers would join the two)."""
    assert seg.dns is not None
    try:
        resolver_subnets = netplan.allocate(seg.dns.cidr, netplan.DNS_TIERS, zones)["Resolver"]
    except ValueError as error:
        yield Problem(f"{key}.cidr", seg.dns.cidr, f"{error} (a /28 per zone for Resolver and for attachments)")
        return
    used = set()
    for i, ip in enumerate(seg.dns.inbound_ips):
        address = ipaddress.IPv4Address(ip)
        inside = [n for n in resolver_subnets if netplan.usable(n, address)]
        if not inside:
            subnets = ", ".join(str(n) for n in resolver_subnets)
            yield Problem(f"{key}.inbound_ips[{i}]", ip, f"not a usable address of the Resolver subnets ({subnets})")
        else:
            used.add(inside[0])
    if len(used) < 2 and len(seg.dns.inbound_ips) >= 2:
        yield Problem(f"{key}.inbound_ips", list(seg.dns.inbound_ips), "must lie in at least two zones' subnets")
    own = [ipaddress.IPv4Network(c) for c in seg.on_premises_cidrs]
    for i, server in enumerate(seg.dns.servers):
        if not any(ipaddress.IPv4Address(server) in n for n in own):
            yield Problem(
                f"{key}.servers[{i}]",
                server,
                "not in this segment's on_premises_cidrs: a segment forwards only to its own DNS servers (三層分離)",
            )
