"""What the shared hub costs against endpoints and resolvers copied into every spoke, what each way of
delivering DNS to the spokes costs, and what each business system's hosts cost. Monthly, from
``data/aws-prices.json`` (sourced prices; none guessed: an item without a sourced price is said to be missing).

Traffic-dependent charges (data processed, DNS queries) are left out and said to be left out: they are the
same whichever way the design goes, or they depend on traffic nobody has measured yet.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from govcloud.config import PROJECT_ROOT, Config
from govcloud.os_profiles import PROFILES
from govcloud.review.assembly import StackArtifact

PRICES_FILE = PROJECT_ROOT / "data" / "aws-prices.json"
HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str
    date: str


class Prices:
    def __init__(self, path: Path = PRICES_FILE) -> None:
        self._items = json.loads(path.read_text(encoding="utf-8"))["items"]

    def get(self, service: str, item: str, region: str = "ap-northeast-1") -> Price | None:
        for entry in self._items:
            if entry["service"] == service and entry["item"] == item and entry["region"] == region:
                return Price(entry["usd"], entry["unit"], entry["source"], str(entry.get("source_date", "")))
        return None

    def need(self, service: str, item: str, region: str = "ap-northeast-1") -> Price:
        price = self.get(service, item, region)
        if price is None:
            raise KeyError(f"no price for {service} / {item} / {region} in {PRICES_FILE}")
        return price


ENDPOINT = ("AWS PrivateLink", "Interface VPC endpoint")
# The source gives the pricing page default without a region; Resolver endpoints are priced alike in most regions.
RESOLVER = ("Amazon Route 53 Resolver", "Resolver endpoint (inbound or outbound)", "unspecified (page default)")
ZONE = ("Amazon Route 53", "Hosted zone (first 25 per account)", "global")
ATTACHMENT = ("AWS Transit Gateway", "Attachment (VPC/VPN/DX-GW/peering are all billed per attachment-hour)")
PROFILE = ("Amazon Route 53", "Route 53 Profile association", "global")
GP3 = ("Amazon EBS", "gp3 storage")
ALB = ("Elastic Load Balancing", "Application Load Balancer")
ALARM = ("Amazon CloudWatch", "Standard-resolution metric alarm")
KEY = ("AWS KMS", "Customer managed key")
ALARMS_PER_HOST = 5
# Keys of a business system: its Session Manager key (the account's data keys belong to its baseline; the Osaka
# copies sit in an air-gapped vault with a key AWS owns).
KEYS_PER_SYSTEM = 1


def instance_item(instance_type: str, os: str = "amazon-linux-2023") -> tuple[str, str]:
    """The price item of an instance type running ``os`` (Windows and RHEL rates include their licence)."""
    return ("Amazon EC2", f"{instance_type} On-Demand, {PROFILES[os].price_os}, shared tenancy")


@dataclass(frozen=True)
class Line:
    label: str
    usd: float | None
    """None: no sourced price for it."""


def system_lines(cfg: Config, prices: Prices, system: str) -> Iterator[Line]:
    """Monthly USD of one business system's always-on resources in the primary region."""
    conf = cfg.systems[system]
    region = cfg.regions.primary.name
    hosts = 0
    for role_name, role in conf.roles.items():
        hosts += role.count
        price = prices.get(*instance_item(role.instance_type, role.os), region)
        usd = None if price is None else role.count * price.usd * HOURS_PER_MONTH
        rate = PROFILES[role.os].price_os
        yield Line(f"{role_name}: {role.count} x {role.instance_type} (compute, {rate} rate)", usd)
        gb = role.count * (role.root_volume_gb + (role.data_volume_gb or 0))
        yield Line(f"{role_name}: {gb} GB gp3 (root and data volumes)", gb * prices.need(*GP3).usd)
    if conf.balanced_role is not None:
        yield Line("internal Application Load Balancer (hours)", prices.need(*ALB).usd * HOURS_PER_MONTH)
    yield Line(f"{ALARMS_PER_HOST * hosts} host alarms", ALARMS_PER_HOST * hosts * prices.need(*ALARM).usd)
    yield Line(f"{KEYS_PER_SYSTEM} KMS keys", KEYS_PER_SYSTEM * prices.need(*KEY).usd)


@dataclass(frozen=True)
class Estimate:
    spokes: int
    zones: int
    services: int
    hub_endpoints: float
    spoke_endpoints: float
    hub_resolver: float
    spoke_resolvers: float
    ram_dns: float
    profile_dns: float | None
    attachments: float

    @property
    def saving(self) -> float:
        return (self.spoke_endpoints + self.spoke_resolvers) - (self.hub_endpoints + self.hub_resolver)


def estimate(cfg: Config, prices: Prices, spokes: int | None = None) -> Estimate:
    """Monthly USD for ``spokes`` spokes (default: the configured ones)."""
    n = len(cfg.network.spokes) if spokes is None else spokes
    zones = len(cfg.regions.primary.availability_zones)
    services = len(cfg.network.endpoint_services)
    endpoint_hour = prices.need(*ENDPOINT).usd
    eni_hour = prices.need(*RESOLVER).usd
    zone_month = prices.need(*ZONE).usd
    profile = prices.get(*PROFILE)
    dns_segments = sum(1 for seg in cfg.network.segments.values() if seg.dns is not None)
    return Estimate(
        spokes=n,
        zones=zones,
        services=services,
        hub_endpoints=services * zones * endpoint_hour * HOURS_PER_MONTH,
        spoke_endpoints=n * services * zones * endpoint_hour * HOURS_PER_MONTH,
        # Each segment's DNS VPC: one inbound and one outbound endpoint, one ENI per zone each (a resolver shared by
        # the segments would join them). Without them, each spoke needs its own outbound endpoint to forward the
        # city's names (and one spoke the inbound endpoint).
        hub_resolver=2 * zones * dns_segments * eni_hour * HOURS_PER_MONTH,
        spoke_resolvers=(n + 1) * zones * eni_hour * HOURS_PER_MONTH if n else 0.0,
        # RAM: rules and firewall rule group are shared at no charge; the endpoint zones are paid once.
        ram_dns=services * zone_month,
        profile_dns=None if profile is None else n * profile.usd * HOURS_PER_MONTH + services * zone_month,
        attachments=(n + 1 + dns_segments) * prices.need(*ATTACHMENT).usd * HOURS_PER_MONTH,
    )


def render(cfg: Config, prices: Prices, spoke_counts: list[int]) -> str:
    estimates = [estimate(cfg, prices, n) for n in spoke_counts]
    head = "| monthly USD | " + " | ".join(f"{e.spokes} spokes" for e in estimates) + " |"
    rows: list[tuple[str, list[float | None]]] = [
        ("interface endpoints, shared in the hub", [e.hub_endpoints for e in estimates]),
        ("interface endpoints, copied into every spoke", [e.spoke_endpoints for e in estimates]),
        ("Resolver endpoints, in each segment's DNS VPC", [e.hub_resolver for e in estimates]),
        ("Resolver endpoints, per spoke", [e.spoke_resolvers for e in estimates]),
        ("**saved by the hub**", [e.saving for e in estimates]),
        ("DNS delivery `ram` (chosen unless config says otherwise): endpoint zones", [e.ram_dns for e in estimates]),
        ("DNS delivery `profile`: Profile associations + zones", [e.profile_dns for e in estimates]),
        ("Transit Gateway attachments (hub, DNS VPCs, spokes; links not counted)", [e.attachments for e in estimates]),
    ]
    lines = [
        f"# Cost: {cfg.name} (monthly, {HOURS_PER_MONTH} hours)",
        "",
        "## Network",
        "",
        f"{estimates[0].services} shared endpoint services, {estimates[0].zones} zones; "
        f"DNS delivery in config: `{cfg.network.dns_delivery}`.",
        "",
        head,
        "| --- |" + " ---: |" * len(estimates),
    ]
    for label, values in rows:
        cells = ["not computed: no sourced price" if v is None else f"{v:,.2f}" for v in values]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cheaper = _cheaper(estimates)
    lines += ["", cheaper]
    for system in cfg.systems:
        lines += _render_system(cfg, prices, system)
    lines += _render_total(cfg, prices)
    lines += _render_recovery(cfg, prices)
    lines += ["", "Unit prices used:", ""]
    for key in (ENDPOINT, RESOLVER, ZONE, ATTACHMENT, *((GP3, ALB, ALARM, KEY) if cfg.systems else ())):
        p = prices.need(*key)
        lines.append(f"- {key[0]}, {key[1]}: {p.usd} {p.unit} (source: {p.source}; {p.date})")
    types = sorted({(role.instance_type, role.os) for system in cfg.systems.values() for role in system.roles.values()})
    for instance_type, os in types:
        item = instance_item(instance_type, os)
        price = prices.get(*item, cfg.regions.primary.name)
        if price is None:
            lines.append(
                f"- {item[0]}, {item[1]}: no sourced price in data/aws-prices.json; not computed "
                "(`make prices` reads it from the AWS Price List API)."
            )
        else:
            lines.append(f"- {item[0]}, {item[1]}: {price.usd} {price.unit} (source: {price.source}; {price.date})")
    if prices.get(*PROFILE) is None:
        lines.append(
            f"- {PROFILE[0]}, {PROFILE[1]}: no sourced price in data/aws-prices.json; "
            "the Profile's cost is not computed."
        )
    lines += [
        "",
        "Left out: data processed by endpoints and the Transit Gateway, DNS queries (Resolver forwarding, DNS "
        "Firewall) and Direct Connect ports and data transfer: they depend on traffic, and the endpoint and "
        "Resolver data charges are the same whether the endpoints sit in the hub or in the spokes.",
    ]
    return "\n".join(lines) + "\n"


def _render_system(cfg: Config, prices: Prices, system: str) -> list[str]:
    rows = list(system_lines(cfg, prices, system))
    known = sum(r.usd for r in rows if r.usd is not None)
    missing = [r.label for r in rows if r.usd is None]
    lines = [
        "",
        f"## Business system `{system}` ({cfg.systems[system].name_ja}), monthly USD",
        "",
        "| item | monthly USD |",
        "| --- | ---: |",
        *(f"| {r.label} | {'no sourced price' if r.usd is None else f'{r.usd:,.2f}'} |" for r in rows),
        f"| **total of the priced items** | **{known:,.2f}** |",
        "",
        "Not included: backup storage in Tokyo and Osaka and the copy transfer (they depend on how much "
        "the data changes), the agents' custom metrics and logs, and load balancer capacity units (traffic).",
    ]
    if missing:
        lines.append(f"No sourced price for: {', '.join(missing)}; add it to data/aws-prices.json with its source.")
    return lines


def recovery_lines(cfg: Config, prices: Prices) -> list[Line]:
    """Monthly USD of Osaka's pilot light (``copies`` adds no network): hub endpoints, each segment's Resolver
    endpoints, the attachments (hub, DNS VPCs, spokes; links not counted), the endpoint zones and each system's
    internal load balancer (hours; capacity units depend on traffic). Osaka's own rate where the price file has it,
    else Tokyo's, said so in the label."""
    dr = cfg.disaster_recovery
    osaka = cfg.regions.dr.name
    zones = len(cfg.regions.dr.availability_zones)
    services = len(dr.endpoint_services) if dr.endpoint_services else len(cfg.network.endpoint_services)
    spokes = len({system.spoke for system in cfg.systems.values()})
    segments = len(cfg.network.segments)

    def rate(key: tuple[str, ...]) -> tuple[float, str]:
        own = prices.get(key[0], key[1], osaka)
        if own is not None:
            return own.usd, "Osaka rate"
        return prices.need(*key).usd, "Tokyo's rate: no sourced Osaka rate"

    endpoint, endpoint_rate = rate(ENDPOINT)
    attachment, attachment_rate = rate(ATTACHMENT)
    eni = prices.need(*RESOLVER).usd
    balanced = [n for n, s in cfg.systems.items() if s.balanced_role is not None]
    alb, alb_rate = rate(ALB)
    return [
        Line(
            f"{services} hub endpoints x {zones} zones ({endpoint_rate})", services * zones * endpoint * HOURS_PER_MONTH
        ),
        Line(
            f"{2 * segments} Resolver endpoints x {zones} zones (page default rate)",
            2 * segments * zones * eni * HOURS_PER_MONTH,
        ),
        Line(
            f"{1 + segments + spokes} Transit Gateway attachments ({attachment_rate}; links not counted)",
            (1 + segments + spokes) * attachment * HOURS_PER_MONTH,
        ),
        Line(f"{services} endpoint zones", services * prices.need(*ZONE).usd),
        *(
            [
                Line(
                    f"{len(balanced)} internal load balancers (hours, {alb_rate})",
                    len(balanced) * alb * HOURS_PER_MONTH,
                )
            ]
            if balanced
            else []
        ),
    ]


def _render_recovery(cfg: Config, prices: Prices) -> list[str]:
    rows = recovery_lines(cfg, prices)
    total = sum(r.usd or 0.0 for r in rows)
    chosen = cfg.disaster_recovery.mode
    return [
        "",
        f"## Disaster recovery in Osaka, monthly USD (config: `{chosen}`)",
        "",
        "| mode | item | monthly USD |",
        "| --- | --- | ---: |",
        "| `copies` | the network (the copies' storage depends on the data and is not counted) | 0.00 |",
        *(f"| `pilot-light` | {r.label} | {r.usd:,.2f} |" for r in rows if r.usd is not None),
        f"| `pilot-light` | **total** | **{total:,.2f}** |",
        "",
        "Restored hosts cost what they cost in Tokyo, for as long as they run (see the business systems above). "
        "DNS queries and data processed are left out: they depend on traffic.",
    ]


def _render_total(cfg: Config, prices: Prices) -> list[str]:
    """The environment as configured: the hub's shared endpoints, its Resolver endpoints, the attachments, the
    DNS delivery in config and every system's priced items; what has no sourced price is named, not guessed."""
    e = estimate(cfg, prices)
    dns = e.ram_dns if cfg.network.dns_delivery == "ram" else e.profile_dns
    network = [e.hub_endpoints, e.hub_resolver, e.attachments, dns]
    system_rows = [row for system in cfg.systems for row in system_lines(cfg, prices, system)]
    known = sum(v for v in network if v is not None) + sum(r.usd for r in system_rows if r.usd is not None)
    missing = ([f"DNS delivery `{cfg.network.dns_delivery}`"] if dns is None else []) + [
        r.label for r in system_rows if r.usd is None
    ]
    lines = [
        "",
        "## Environment total, monthly USD",
        "",
        f"**{known:,.2f}** for the priced items of this environment "
        "(hub endpoints, Resolver endpoints, attachments, DNS delivery, business systems).",
    ]
    if missing:
        lines.append(f"Without a sourced price, so not in the total: {'; '.join(missing)}.")
    return lines


def _cheaper(estimates: list[Estimate]) -> str:
    if any(e.profile_dns is None for e in estimates):
        return (
            "DNS delivery: `ram` costs only the endpoint zones, paid once. The Profile is billed per VPC association "
            "and hour, but no sourced rate is available here, so its cost is not computed; `ram` stays the default."
        )
    ram_wins = all(e.ram_dns <= (e.profile_dns or 0) for e in estimates)
    return f"DNS delivery: `{'ram' if ram_wins else 'profile'}` is cheaper for every spoke count above."


@dataclass(frozen=True)
class Item:
    """One kind of always-on resource found in templates: how many, and the monthly USD of one (None: no sourced
    price)."""

    label: str
    quantity: float
    unit_usd: float | None


def _region_rate(prices: Prices, key: tuple[str, ...], region: str) -> tuple[float | None, str]:
    """The rate in ``region`` if the file has it, else the key's own region's (said in the label)."""
    own = prices.get(key[0], key[1], region)
    if own is not None:
        return own.usd, ""
    fallback = prices.get(*key)
    return (None, "") if fallback is None else (fallback.usd, f", {key[2] if len(key) > 2 else 'Tokyo'} rate")


def template_items(stacks: Iterable[StackArtifact], prices: Prices) -> dict[str, Item]:
    """The always-on resources of these templates, priced: hosts by type and OS, EBS storage, interface endpoints
    per zone, Transit Gateway attachments (VPC, and the Direct Connect and VPN links the templates declare), VPN
    connections, Resolver endpoint ENIs, hosted zones, load balancers, alarms and KMS keys. Usage (traffic, storage,
    requests) is not in templates and not counted."""
    found: dict[str, list[float | None]] = {}

    def add(label: str, quantity: float, unit: float | None) -> None:
        entry = found.setdefault(label, [0.0, unit])
        entry[0] = (entry[0] or 0.0) + quantity

    def hourly(key: tuple[str, ...], region: str) -> tuple[float | None, str]:
        usd, note = _region_rate(prices, key, region)
        return (None if usd is None else usd * HOURS_PER_MONTH), note

    for stack in stacks:
        where = "Osaka" if stack.region == "ap-northeast-3" else "Tokyo"
        for resource in stack.resources.values():
            kind = resource.get("Type")
            p = resource.get("Properties") or {}
            if kind == "AWS::EC2::Instance":
                tags = {t.get("Key"): t.get("Value") for t in p.get("Tags", []) if isinstance(t, dict)}
                os_name = str(tags.get("OperatingSystem", ""))
                if os_name in PROFILES:
                    usd, note = hourly(instance_item(str(p.get("InstanceType")), os_name), stack.region)
                    add(f"{p.get('InstanceType')} host, {PROFILES[os_name].price_os} ({where}{note})", 1, usd)
                else:
                    add(f"{p.get('InstanceType')} host, operating system not tagged ({where})", 1, None)
                for mapping in p.get("BlockDeviceMappings", []):
                    ebs = mapping.get("Ebs", {}) if isinstance(mapping, dict) else {}
                    volume_type = ebs.get("VolumeType", "gp2")
                    usd, note = _region_rate(prices, ("Amazon EBS", f"{volume_type} storage"), stack.region)
                    add(f"EBS {volume_type} GB-month ({where}{note})", float(ebs.get("VolumeSize", 0)), usd)
            elif kind == "AWS::EC2::Volume":
                volume_type = p.get("VolumeType", "gp2")
                usd, note = _region_rate(prices, ("Amazon EBS", f"{volume_type} storage"), stack.region)
                add(f"EBS {volume_type} GB-month ({where}{note})", float(p.get("Size", 0)), usd)
            elif kind == "AWS::EC2::VPCEndpoint" and p.get("VpcEndpointType") == "Interface":
                usd, note = hourly(ENDPOINT, stack.region)
                add(f"interface endpoint zone-hours ({where}{note})", len(p.get("SubnetIds", [])), usd)
            elif kind == "AWS::EC2::TransitGatewayVpcAttachment" or (resource.get("Metadata") or {}).get(
                "TransitGatewayAttachment"
            ):
                usd, note = hourly(ATTACHMENT, stack.region)
                add(f"Transit Gateway attachments ({where}{note})", 1, usd)
            elif kind == "AWS::EC2::VPNConnection":
                usd, note = hourly(("AWS Site-to-Site VPN", "VPN connection"), stack.region)
                add(f"VPN connections ({where}{note})", 1, usd)
            elif kind == "AWS::Route53Resolver::ResolverEndpoint":
                usd, _ = hourly(RESOLVER, RESOLVER[2])
                add(f"Resolver endpoint ENIs ({where}, page default rate)", len(p.get("IpAddresses", [])), usd)
            elif kind == "AWS::Route53::HostedZone":
                add("hosted zones", 1, prices.need(*ZONE).usd)
            elif kind == "AWS::ElasticLoadBalancingV2::LoadBalancer" and p.get("Type", "application") == "application":
                usd, note = hourly(ALB, stack.region)
                add(f"Application Load Balancers ({where}{note})", 1, usd)
            elif kind == "AWS::CloudWatch::Alarm":
                usd, note = _region_rate(prices, ALARM, stack.region)
                add(f"metric alarms ({where}{note})", 1, usd)
            elif kind == "AWS::KMS::Key":
                usd, note = _region_rate(prices, KEY, stack.region)
                add(f"KMS keys ({where}{note})", 1, usd)
    return {label: Item(label, float(q or 0.0), u) for label, (q, u) in found.items()}


def monthly(items: Mapping[str, Item]) -> float:
    return sum(i.quantity * i.unit_usd for i in items.values() if i.unit_usd is not None)
