"""Business systems (標準準拠システム): each in its own account and spoke, with its hosts per role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
    field_validator,
)

from govcloud.config.base import MISSING, Bool, Int, Model, Name, Problem, Str, account_reference, emails
from govcloud.os_profiles import PROFILES

if TYPE_CHECKING:
    from govcloud.config.model import Config


def _known_os(value: str) -> str:
    if value not in PROFILES:
        raise ValueError(f"not an operating system of govcloud/os_profiles.py; known: {', '.join(PROFILES)}")
    return value


OsName = Annotated[Str, AfterValidator(_known_os), WithJsonSchema({"type": "string", "enum": list(PROFILES)})]
"""An operating system: a key of :data:`govcloud.os_profiles.PROFILES`."""
RegionName = Literal["ap-northeast-1", "ap-northeast-3"]
AMI_ID = re.compile(r"^ami-[0-9a-f]{8,17}$")
AmiId = Annotated[Str, Field(pattern=AMI_ID.pattern)]


def _one_line(latest: bool) -> WrapValidator:
    """A bad image gets one plain line that says what is wrong, not one line per branch of the type."""
    example = 'a table of AMI IDs per region, e.g. { ap-northeast-1 = "ami-0123456789abcdef0" }'

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            pass
        if isinstance(value, dict):
            for region, ami in value.items():
                if region not in ("ap-northeast-1", "ap-northeast-3"):
                    raise ValueError(f"{region!r} is not a region of this landing zone; give {example}") from None
                if not isinstance(ami, str) or not AMI_ID.match(ami):
                    raise ValueError(f"{ami!r} is not an AMI ID (ami- and 8 to 17 hex digits)") from None
        raise ValueError(f'must be "latest" or {example}' if latest else f"must be {example}") from None

    return WrapValidator(validate)


PinnedImage = Annotated[dict[RegionName, AmiId], _one_line(latest=False)]
Image = Annotated[dict[RegionName, AmiId] | Literal["latest"], _one_line(latest=True)]


CITY_HALL = "city-hall"
"""Caller name for the city hall side of the system's segment (its on-premises CIDRs)."""
MAX_HOSTS_PER_ROLE = 10


class HostRole(Model):
    """One role of a business system's hosts (web/AP, DB, batch, ...)."""

    count: Annotated[Int, Field(ge=1, le=MAX_HOSTS_PER_ROLE)]
    instance_type: Annotated[Str, Field(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")]
    os: OsName
    ami: Image
    """Pinned AMI ID per region, or "latest" (staging only, and only where AWS publishes a public parameter)."""
    launched_from: PinnedImage | None = None
    """The image the role's instances were created from, when ``ami`` has moved on since (see README)."""
    tier: Literal["application", "data"]
    """Spoke subnet tier: application (reached from the city hall) or data (reached only from inside the VPC)."""
    root_volume_gb: Annotated[Int, Field(ge=8, le=16384)]
    data_volume_gb: Annotated[Int, Field(ge=1, le=16384)] | None = None
    ports: tuple[Annotated[Int, Field(ge=1, le=65535)], ...] = ()
    callers: tuple[Str, ...] = ()
    """Who may call the ports: other roles of the system, or "city-hall" (the segment's on-premises CIDRs)."""
    load_balancer: Bool = False
    """Users reach the role through the system's internal load balancer (TLS on 443) on the role's first port."""
    linkage_caller: Bool = False
    """The role's hosts call the data linkage platform: only such hosts may assume the system's caller roles."""


class BusinessSystem(Model):
    """A standard business system (標準準拠システム): its hosts in its own account and spoke."""

    name_ja: Annotated[Str, Field(min_length=1, max_length=32)]
    account: Name
    spoke: Name
    certificate_arn: (
        Annotated[Str, Field(pattern=r"^arn:aws:acm:ap-northeast-[13]:[0-9]{12}:certificate/[0-9a-f-]{36}$")] | None
    ) = None
    """ACM certificate of the internal load balancer's TLS listener (required when a role has load_balancer)."""
    operations_emails: Annotated[tuple[Str, ...], Field(min_length=1)]
    roles: Annotated[dict[Annotated[Name, Field(max_length=16)], HostRole], Field(min_length=1)]

    @field_validator("operations_emails")
    @classmethod
    def _valid_emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return emails(value)

    @property
    def balanced_role(self) -> str | None:
        """The role behind the internal load balancer (config allows at most one), or None."""
        return next((name for name, role in self.roles.items() if role.load_balancer), None)


# ----- checks across keys -----


def system_checks(cfg: Config) -> Iterator[Problem]:
    spokes = cfg.network.spokes
    owner: dict[str, str] = {}
    for name, system in cfg.systems.items():
        key = f"systems.{name}"
        if system.account not in cfg.accounts:
            yield from account_reference(f"{key}.account", system.account, cfg.accounts)
        elif "resident-data" not in cfg.accounts[system.account].data_classes:
            yield Problem(
                f"accounts.{system.account}.data_classes",
                list(cfg.accounts[system.account].data_classes),
                "a business system's account must hold the 'resident-data' data class (its volumes and backups "
                "use that key)",
            )
        if system.account in owner:
            yield Problem(
                f"{key}.account",
                system.account,
                f"already the account of systems.{owner[system.account]}: each business system has its own account",
            )
        owner.setdefault(system.account, name)
        if system.spoke not in spokes:
            yield Problem(f"{key}.spoke", system.spoke, f"not a spoke; known spokes: {', '.join(spokes)}")
        elif spokes[system.spoke].account != system.account:
            yield Problem(
                f"{key}.spoke",
                system.spoke,
                f"that spoke lives in account {spokes[system.spoke].account!r}, not {system.account!r}",
            )
        callers = [r for r, role in system.roles.items() if role.linkage_caller]
        calls_linkage = system.spoke in spokes and cfg.linkage_caller_in(system.spoke) is not None
        if calls_linkage and not callers:
            yield Problem(
                f"{key}.roles",
                list(system.roles),
                "the system calls the data linkage platform (linkage.systems names its spoke): set linkage_caller = "
                "true on the role(s) whose hosts call it; no other host may assume its caller roles",
            )
        for caller in callers if not calls_linkage else []:
            yield Problem(
                f"{key}.roles.{caller}.linkage_caller",
                True,
                "the system does not call the data linkage platform (no linkage.systems entry names its spoke)",
            )
        balanced = [r for r, role in system.roles.items() if role.load_balancer]
        if len(balanced) > 1:
            yield Problem(f"{key}.roles", balanced, "at most one role per system sits behind the load balancer")
        if balanced and system.certificate_arn is None:
            yield Problem(
                f"{key}.certificate_arn", MISSING, "required: the internal load balancer listens with TLS only"
            )
        if system.certificate_arn and f":{cfg.regions.primary.name}:" not in system.certificate_arn:
            yield Problem(
                f"{key}.certificate_arn",
                system.certificate_arn,
                f"the certificate must be in the primary region {cfg.regions.primary.name}",
            )
        for role_name, role in system.roles.items():
            rkey = f"{key}.roles.{role_name}"
            for i, caller in enumerate(role.callers):
                if caller != CITY_HALL and caller not in system.roles:
                    yield Problem(
                        f"{rkey}.callers[{i}]",
                        caller,
                        f"unknown caller; allowed: {CITY_HALL!r} or a role of the system ({', '.join(system.roles)})",
                    )
            if (role.callers or role.load_balancer) and not role.ports:
                yield Problem(f"{rkey}.ports", [], "callers or a load balancer need at least one port")
            for i, port in enumerate(role.ports):
                if port in (22, 3389):
                    yield Problem(
                        f"{rkey}.ports[{i}]", port, "SSH and RDP are never opened: operators use Session Manager"
                    )
            primary = cfg.regions.primary.name
            if role.ami == "latest":
                if cfg.is_production:
                    yield Problem(
                        f"{rkey}.ami",
                        "latest",
                        "production hosts run a pinned AMI ID per region: a new release reaches them only as a "
                        "reviewed config change",
                    )
                elif PROFILES[role.os].latest_ami_parameter is None:
                    yield Problem(
                        f"{rkey}.ami",
                        "latest",
                        f"AWS publishes no public SSM parameter for {role.os}: give the AMI ID per region",
                    )
                elif role.launched_from is None:
                    yield Problem(
                        f"{rkey}.launched_from",
                        MISSING,
                        'required with ami = "latest": the pinned image (per region) the hosts are created from. '
                        '"latest" then names the release that `python -m govcloud.ops update-image` moves them to; '
                        "a template never changes a running host's image, or CloudFormation would replace it",
                    )
            elif primary not in role.ami:
                yield Problem(f"{rkey}.ami", dict(role.ami), f"needs the AMI ID of the primary region {primary}")
            if role.launched_from is not None and primary not in role.launched_from:
                yield Problem(
                    f"{rkey}.launched_from",
                    dict(role.launched_from),
                    f"needs the AMI ID of the primary region {primary}",
                )
