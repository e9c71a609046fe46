"""The whole configuration of one environment, the values derived from it, and the checks across its areas."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from pydantic import Field

from govcloud import netplan
from govcloud.config.accounts import (
    Account,
    AccountName,
    AccountServices,
    Alarms,
    BreakGlass,
    EnvironmentSettings,
    LogArchive,
    Logging,
    Municipality,
    Regions,
    account_checks,
    log_archive_checks,
    name_length_checks,
    region_checks,
    tag_checks,
)
from govcloud.config.base import Model, Name, Problem, Str, pascal
from govcloud.config.data_lake import DataLake, data_lake_checks
from govcloud.config.disaster_recovery import DisasterRecovery, disaster_recovery_checks
from govcloud.config.linkage import Linkage, linkage_checks
from govcloud.config.network import NetworkSettings, network_checks
from govcloud.config.operations import Backup, Operations, Patching, operations_checks
from govcloud.config.systems import BusinessSystem, system_checks


class Config(Model):
    environment: EnvironmentSettings
    municipality: Municipality
    regions: Regions
    accounts: dict[AccountName, Account]
    account_services: AccountServices
    logging: Logging
    log_archive: LogArchive
    alarms: Alarms
    break_glass: BreakGlass
    operations: Operations
    network: NetworkSettings
    data_lake: DataLake
    linkage: Linkage
    systems: dict[Annotated[Name, Field(max_length=24)], BusinessSystem] = Field(default_factory=dict)
    patching: Patching | None = None
    backup: Backup | None = None
    disaster_recovery: DisasterRecovery = Field(default_factory=DisasterRecovery)
    tags: dict[Str, Str] = Field(default_factory=dict)

    # ----- derived values (no I/O) -----

    @property
    def name(self) -> str:
        return self.environment.name

    @property
    def is_production(self) -> bool:
        return self.environment.stage == "production"

    @property
    def prefix(self) -> str:
        """Stack-name prefix: ``kobe-stg`` becomes ``KobeStg``."""
        return pascal(self.environment.name)

    @property
    def municipality_tag(self) -> str:
        """Value of the Municipality tag: romaji name and local government code, e.g. ``Kobe-281000``."""
        return f"{self.municipality.name_romaji.replace(' ', '-')}-{self.municipality.code}"

    def account_id(self, account: str) -> str:
        """The 12-digit ID of an account of ``[accounts]``, by its name there."""
        return self.accounts[account].id

    @property
    def known_cidrs(self) -> list[str]:
        """Every network the landing zone knows: the hub, the segments' DNS VPCs, the spokes and the city hall side
        of each segment."""
        net = self.network
        spokes = [s.cidr for s in net.spokes.values()]
        dns = [seg.dns.cidr for seg in net.segments.values() if seg.dns is not None]
        on_premises = [c for seg in net.segments.values() for c in seg.on_premises_cidrs]
        return [net.hub_cidr, *dns, *spokes, *on_premises]

    @property
    def osaka_cidrs(self) -> list[str]:
        """The pilot light's networks in Osaka (none with ``mode = "copies"``)."""
        dr = self.disaster_recovery
        if dr.mode != "pilot-light":
            return []
        hub = [dr.hub_cidr] if dr.hub_cidr else []
        return [*hub, *(s.dns.cidr for s in dr.segments.values()), *(s.cidr for s in dr.spokes.values())]

    def segment_spoke_cidrs(self, segment: str, *, with_allowed: bool = False) -> list[str]:
        """CIDRs of the spokes in ``segment`` (and, if asked, in the segments allowed to talk to it)."""
        segments = {segment} | (set(self.allowed_peers(segment)) if with_allowed else set())
        return [s.cidr for s in self.network.spokes.values() if s.segment in segments]

    def reachable_from(self, spoke: str) -> list[str]:
        """What a spoke may reach: the hub, its own segment (city hall side and other spokes), allowed segments.

        Adjacent networks are merged (spokes addressed from one supernet take one route and one ACL entry). The
        spoke's own CIDR takes part in the merge, so that it does not split its segment's supernet into pieces; a
        route to a supernet that contains the VPC never carries the VPC's own traffic (the more specific local
        route wins), and its ACL entries admit nothing the VPC's own entry does not.
        """
        net = self.network
        conf = net.spokes[spoke]
        peers = self.allowed_peers(conf.segment)
        cidrs = {
            net.hub_cidr,
            *net.segments[conf.segment].on_premises_cidrs,
            *self.segment_spoke_cidrs(conf.segment),
            *(c for p in peers for c in net.segments[p].on_premises_cidrs),
            *(c for p in peers for c in self.segment_spoke_cidrs(p)),
        }
        return [n for n in netplan.merge(cidrs) if n != conf.cidr]

    def allowed_peers(self, segment: str) -> list[str]:
        """Segments that ``segment`` may talk to, from the explicit allow-list."""
        peers = {b for a, b in self.network.allowed_segment_pairs if a == segment}
        peers |= {a for a, b in self.network.allowed_segment_pairs if b == segment}
        return sorted(peers - {segment})

    def shared_endpoint_services(self) -> list[str]:
        """Services whose hub endpoint is shared with spokes (all configured hub endpoints)."""
        return list(self.network.endpoint_services)

    def patch_source_cidrs(self, spoke: str) -> list[str]:
        """Update servers the hosts in ``spoke`` patch from (Windows and RHEL; Amazon Linux uses S3)."""
        if self.patching is None:
            return []
        systems = [s for s in self.systems.values() if s.spoke == spoke]
        used = {host_role.os for s in systems for host_role in s.roles.values()}
        return netplan.merge({src.cidr for os_name, src in self.patching.sources.items() if os_name in used})

    def linkage_caller_in(self, spoke: str) -> str | None:
        """The linkage system that calls the platform from ``spoke``, if any: the business system in that spoke
        creates its caller roles."""
        if self.linkage is None:
            return None
        return next((name for name, s in self.linkage.systems.items() if s.spoke == spoke), None)

    def zones(self, region: str) -> tuple[str, ...]:
        for r in (self.regions.primary, self.regions.dr):
            if r.name == region:
                return r.availability_zones
        raise KeyError(region)


Check = Callable[[Config], Iterator[Problem]]

# Checks across keys, each with the top-level tables it reads. When some tables fail their own validation, the
# checks that read only the others still run, so that one round of errors says as much as it can.
CHECKS: tuple[tuple[tuple[str, ...], Check], ...] = (
    (("regions",), region_checks),
    (("accounts",), account_checks),
    (("environment", "accounts", "log_archive"), log_archive_checks),
    (("tags",), tag_checks),
    (("environment", "regions"), name_length_checks),
    (("regions", "accounts", "network", "environment"), network_checks),
    (("environment", "regions", "accounts", "data_lake"), data_lake_checks),
    (("environment", "regions", "accounts", "network", "linkage"), linkage_checks),
    (("environment", "regions", "accounts", "network", "linkage", "systems"), system_checks),
    (("environment", "regions", "accounts", "network", "systems", "patching", "backup"), operations_checks),
    (("regions", "accounts", "network", "systems", "disaster_recovery"), disaster_recovery_checks),
)


def cross_checks(cfg: Config, valid: set[str] | None = None) -> Iterator[Problem]:
    """Problems that relate several keys; ``valid`` limits them to checks whose tables all validated."""
    for tables, check in CHECKS:
        if valid is None or set(tables) <= valid:
            yield from check(cfg)
