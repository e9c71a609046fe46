"""Typed, validated environment configuration.

One TOML file per environment under ``config/`` is parsed into frozen pydantic models. Any problem stops
the load with a :class:`ConfigError` whose message names the file, the key path, the bad value and what is
allowed. This module imports no CDK code and reads nothing but the file it is given.
"""

from __future__ import annotations

import difflib
import ipaddress
import itertools
import re
import tomllib
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator

from govcloud import netplan

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
DEFAULT_ENVIRONMENT = "kobe-stg"

# The Government Cloud landing zone may only place resources in Tokyo and Osaka.
ALLOWED_REGIONS: dict[str, tuple[str, ...]] = {
    "ap-northeast-1": ("ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"),
    "ap-northeast-3": ("ap-northeast-3a", "ap-northeast-3b", "ap-northeast-3c"),
}

# Retention periods that CloudWatch Logs accepts (PutRetentionPolicy).
CLOUDWATCH_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

# Tags every resource carries; their values come from the config and the stacks, never from the [tags] table.
REQUIRED_TAG_KEYS = ("Municipality", "Environment", "System", "DataClassification", "ManagedBy")
MANAGED_BY = "cdk"

DataClass = Literal["logs", "resident-data", "data-lake", "linkage"]
"""Classes of data that get their own customer-managed key. Every account has a ``logs`` key."""

DataClassification = Literal["internal", "confidential", "restricted"]
"""Values of the ``DataClassification`` tag (機密性2 = internal, 機密性3 = confidential / restricted)."""

CLASSIFICATION_OF: dict[str, DataClassification] = {
    "logs": "confidential",
    "resident-data": "restricted",
    "data-lake": "restricted",
    "linkage": "restricted",
}

Int = Annotated[int, Strict()]
Str = Annotated[str, Strict()]
Bool = Annotated[bool, Strict()]

ROLE_NAME = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
TAG_SPECIAL_CHARS = set(" _.:/=+-@")


class ConfigError(Exception):
    """A configuration problem, with a message meant for a person (no traceback needed)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EnvironmentSettings(_Model):
    name: Annotated[Str, Field(pattern=r"^[a-z][a-z0-9-]{1,21}[a-z0-9]$")]
    """Lower-case name used in resource names and, in PascalCase, as the stack prefix (3 to 23 characters)."""
    stage: Literal["staging", "production"]


def _check_digit(code: str) -> int:
    """Check digit of a local government code (全国地方公共団体コード), JIS X 0402 / 総務省 rule."""
    total = sum(int(d) * w for d, w in zip(code[:5], (6, 5, 4, 3, 2), strict=True))
    return (11 - total % 11) % 10


class Municipality(_Model):
    name_ja: Annotated[Str, Field(min_length=1, max_length=32)]
    name_romaji: Annotated[Str, Field(pattern=r"^[A-Z][A-Za-z]*( [A-Z][A-Za-z]*)*$", max_length=32)]
    code: Annotated[Str, Field(pattern=r"^[0-9]{6}$")]
    """Six-digit local government code including its check digit (Kobe: 281000)."""

    @field_validator("code")
    @classmethod
    def _code_check_digit(cls, value: str) -> str:
        expected = _check_digit(value)
        if int(value[5]) != expected:
            raise ValueError(
                f"check digit should be {expected} for {value[:5]} (the code would be {value[:5]}{expected})"
            )
        return value


class Region(_Model):
    name: Literal["ap-northeast-1", "ap-northeast-3"]
    availability_zones: Annotated[tuple[Str, ...], Field(min_length=2)]

    @field_validator("availability_zones")
    @classmethod
    def _unique(cls, zones: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(zones)) != len(zones):
            raise ValueError("each availability zone may be listed once")
        return zones


class Regions(_Model):
    primary: Region
    dr: Region


class Account(_Model):
    id: Annotated[Str, Field(pattern=r"^[0-9]{12}$")]
    """Twelve-digit AWS account ID, as a quoted string."""
    data_classes: tuple[Literal["resident-data", "data-lake", "linkage"], ...] = ()
    """Data held in this account besides logs; each gets its own key. The first one is the EBS default key."""
    monthly_budget_usd: Annotated[Int, Field(gt=0, le=1_000_000)]


class AccountServices(_Model):
    """Account-level services the Government Cloud may already provide. True: this landing zone creates them."""

    guardduty: Bool
    security_hub: Bool
    config_recorder: Bool
    cloudtrail: Bool


class Logging(_Model):
    retention_days: Int
    """Retention of every CloudWatch log group; also the minimum the compliance rules accept."""

    @field_validator("retention_days")
    @classmethod
    def _allowed_retention(cls, value: int) -> int:
        if value not in CLOUDWATCH_RETENTION_DAYS:
            allowed = ", ".join(str(d) for d in CLOUDWATCH_RETENTION_DAYS)
            raise ValueError(f"CloudWatch Logs accepts only these retention periods (days): {allowed}")
        return value


class LogArchive(_Model):
    account: Annotated[Str, Field(pattern=ROLE_NAME)]
    key_alias: Annotated[Str, Field(pattern=r"^alias/[a-zA-Z0-9/_-]{1,250}$")]
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"]
    object_lock_days: Annotated[Int, Field(ge=1, le=36500)]
    infrequent_access_after_days: Annotated[Int, Field(ge=30)]
    glacier_after_days: Annotated[Int, Field(ge=31)]
    expire_after_days: Annotated[Int, Field(ge=1, le=36500)]
    access_log_expire_after_days: Annotated[Int, Field(ge=1, le=36500)]

    @field_validator("key_alias")
    @classmethod
    def _not_aws_alias(cls, value: str) -> str:
        if value.startswith("alias/aws/"):
            raise ValueError(
                "alias/aws/ is reserved for AWS managed keys; choose a name such as alias/kobe-stg/log-archive"
            )
        return value


class Alarms(_Model):
    emails: Annotated[tuple[Str, ...], Field(min_length=1)]

    @field_validator("emails")
    @classmethod
    def _valid_emails(cls, emails: tuple[str, ...]) -> tuple[str, ...]:
        for address in emails:
            if len(address) > 254 or not EMAIL.match(address):
                raise ValueError(
                    f"{address!r} is not a valid e-mail address (expected name@domain, e.g. ops@city.kobe.lg.jp)"
                )
        return emails


def _tag_text_ok(text: str) -> bool:
    return all(ch.isalnum() or ch in TAG_SPECIAL_CHARS for ch in text)


CIDR = r"^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$"
IPV4 = r"^[0-9]{1,3}(\.[0-9]{1,3}){3}$"
DOMAIN = r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"

# Network ACL rules per direction: the AWS default quota (adjustable to 40 on request).
NACL_RULES_PER_DIRECTION = 20

# Interface endpoint services a spoke may need, by the service part of com.amazonaws.<region>.<service>.
ENDPOINT_SERVICES = (
    "ssm", "ssmmessages", "ec2messages", "ec2", "kms", "logs", "monitoring", "sts", "secretsmanager", "sqs", "sns",
    "events", "glue", "athena", "lakeformation", "backup", "execute-api", "elasticloadbalancing", "autoscaling",
)  # fmt: skip


def _valid_network(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        raise ValueError(f"not a valid network address with prefix (e.g. 10.0.0.0/16): {error}") from None
    if network.version != 4:
        raise ValueError("only IPv4 networks are supported")
    return value


def _valid_ip(value: str) -> str:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise ValueError("not a valid IPv4 address") from None
    return value


def _private_asn(value: int) -> int:
    if not (64512 <= value <= 65534 or 4200000000 <= value <= 4294967294):
        raise ValueError("must be a private ASN: 64512-65534 or 4200000000-4294967294")
    return value


Network = Annotated[Str, Field(pattern=CIDR), AfterValidator(_valid_network)]
IpAddress = Annotated[Str, Field(pattern=IPV4), AfterValidator(_valid_ip)]
PrivateAsn = Annotated[Int, AfterValidator(_private_asn)]


class Vpn(_Model):
    """Site-to-site VPN over the internet to the city's customer gateway: the backup path, with BGP."""

    customer_gateway_ip: IpAddress
    customer_gateway_asn: PrivateAsn


class Segment(_Model):
    """A network segment of 三層分離 with its own Transit Gateway route table and its own links."""

    on_premises_cidrs: Annotated[tuple[Network, ...], Field(min_length=1)]
    direct_connect_gateway_id: Annotated[
        Str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    ]
    direct_connect_allowed_prefixes: Annotated[tuple[Network, ...], Field(min_length=1)]
    vpn: Vpn | None = None


class Spoke(_Model):
    account: Annotated[Str, Field(pattern=ROLE_NAME)]
    segment: Annotated[Str, Field(pattern=ROLE_NAME)]
    cidr: Network
    endpoints_in_spoke: tuple[Str, ...] = ()
    """Interface endpoints this spoke gets in its own VPC instead of using the hub's."""


class NetworkSettings(_Model):
    account: Annotated[Str, Field(pattern=ROLE_NAME)]
    hub_cidr: Network
    transit_gateway_asn: PrivateAsn
    endpoint_services: tuple[Str, ...]
    resolver_inbound_ips: Annotated[tuple[IpAddress, ...], Field(min_length=2)]
    on_premises_dns: Annotated[tuple[IpAddress, ...], Field(min_length=1)]
    forward_domains: tuple[Annotated[Str, Field(pattern=DOMAIN)], ...] = ()
    dns_allowed_domains: tuple[Annotated[Str, Field(pattern=DOMAIN)], ...] = ()
    dns_delivery: Literal["ram", "profile"]
    s3_prefix_list_id: Annotated[Str, Field(pattern=r"^pl-[0-9a-f]{8,17}$")]
    """AWS-managed prefix list of S3 in the primary region, for security groups (aws ec2 describe-prefix-lists)."""
    s3_cidrs: Annotated[tuple[Network, ...], Field(min_length=1)]
    """The CIDRs of that prefix list, for network ACLs, which cannot name a prefix list
    (aws ec2 get-managed-prefix-list-entries --prefix-list-id <s3_prefix_list_id>)."""
    allowed_segment_pairs: tuple[tuple[Str, Str], ...] = ()
    segments: Annotated[dict[Annotated[Str, Field(pattern=ROLE_NAME)], Segment], Field(min_length=1)]
    spokes: dict[Annotated[Str, Field(pattern=ROLE_NAME)], Spoke] = Field(default_factory=dict)


class ZoneLifecycle(_Model):
    """Lifecycle of one data lake zone's bucket."""

    infrequent_access_after_days: Annotated[Int, Field(ge=30)] | None = None
    glacier_after_days: Annotated[Int, Field(ge=31)] | None = None
    expire_after_days: Annotated[Int, Field(ge=1, le=36500)] | None = None
    noncurrent_expire_after_days: Annotated[Int, Field(ge=1, le=36500)]


class ObjectLock(_Model):
    mode: Literal["GOVERNANCE", "COMPLIANCE"]
    days: Annotated[Int, Field(ge=1, le=36500)]


DATA_LAKE_ZONES = ("raw", "curated", "analytics")


class DataLake(_Model):
    account: Annotated[Str, Field(pattern=ROLE_NAME)]
    zones: dict[Literal["raw", "curated", "analytics"], ZoneLifecycle]
    raw_object_lock: ObjectLock | None = None
    """Object Lock on the raw zone (and then on its replica in Osaka)."""
    replicate: tuple[Literal["raw", "curated", "analytics"], ...]
    """Zones copied to Osaka."""
    crawler_schedule: Annotated[Str, Field(pattern=r"^cron\(.+\)$")]
    athena_bytes_scanned_cutoff: Annotated[Int, Field(ge=10_000_000)]
    """Athena stops a query that would scan more than this many bytes (minimum 10 MB)."""
    results_expire_after_days: Annotated[Int, Field(ge=1, le=3650)]
    administrators: tuple[Annotated[Str, Field(pattern=r"^arn:aws:iam::[0-9]{12}:role/[\w+=,.@/-]{1,64}$")], ...]
    """Lake Formation administrators besides the role that deploys the stacks."""


ColumnType = Literal["string", "integer", "decimal", "date"]


class DatasetSettings(_Model):
    producer: Annotated[Str, Field(pattern=ROLE_NAME)]
    subscribers: Annotated[tuple[Annotated[Str, Field(pattern=ROLE_NAME)], ...], Field(min_length=1)]
    format: Literal["json", "csv"]
    encoding: Literal["utf-8", "cp932", "shift_jis"] = "utf-8"
    key_column: Str
    columns: Annotated[dict[Str, ColumnType], Field(min_length=1)]
    identifiers: tuple[Str, ...] = ()
    """Columns pseudonymized (keyed hash in KMS) before the data reaches the data lake."""


class LinkageSystem(_Model):
    """A system that calls the linkage API: its account, the roles it calls with, its execute-api endpoint."""

    account: Annotated[Str, Field(pattern=r"^[0-9]{12}$")]
    spoke: Annotated[Str, Field(pattern=ROLE_NAME)] | None = None
    """The system's spoke when it runs in this landing zone (it must have an execute-api endpoint)."""
    caller_roles: Annotated[tuple[Annotated[Str, Field(pattern=r"^[\w+=,.@-]{1,64}$")], ...], Field(min_length=1)]
    api_endpoint_id: Annotated[Str, Field(pattern=r"^vpce-[0-9a-f]{8,17}$")] | None = None
    """The execute-api endpoint in the VPC of a system run elsewhere (its vendor's). A system of this landing
    zone gives none: its spoke stack creates the endpoint and the linkage stack reads its ID at deploy time."""


class Linkage(_Model):
    account: Annotated[Str, Field(pattern=ROLE_NAME)]
    spoke: Annotated[Str, Field(pattern=ROLE_NAME)]
    """The spoke whose application subnets run the platform's functions."""
    reserved_concurrency: Annotated[Int, Field(ge=1, le=1000)]
    throttle_rate_per_second: Annotated[Int, Field(ge=1, le=10000)]
    throttle_burst: Annotated[Int, Field(ge=1, le=5000)]
    systems: Annotated[dict[Annotated[Str, Field(pattern=ROLE_NAME)], LinkageSystem], Field(min_length=1)]
    datasets: Annotated[dict[Annotated[Str, Field(pattern=ROLE_NAME)], DatasetSettings], Field(min_length=1)]


OperatingSystem = Literal["windows-server-2022-ja", "rhel-9", "amazon-linux-2023"]

# Public SSM parameters with the newest AMI of each operating system. AWS publishes none for RHEL.
LATEST_AMI_PARAMETERS: dict[str, str] = {
    "windows-server-2022-ja": "/aws/service/ami-windows-latest/Windows_Server-2022-Japanese-Full-Base",
    "amazon-linux-2023": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
}
CITY_HALL = "city-hall"
"""Caller name for the city hall side of the system's segment (its on-premises CIDRs)."""
MAX_HOSTS_PER_ROLE = 10
Cron = Annotated[Str, Field(pattern=r"^cron\(.+\)$")]
AmiId = Annotated[Str, Field(pattern=r"^ami-[0-9a-f]{8,17}$")]


class HostRole(_Model):
    """One role of a business system's hosts (web/AP, DB, batch, ...)."""

    count: Annotated[Int, Field(ge=1, le=MAX_HOSTS_PER_ROLE)]
    instance_type: Annotated[Str, Field(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")]
    os: OperatingSystem
    ami: dict[Literal["ap-northeast-1", "ap-northeast-3"], AmiId] | Literal["latest"]
    """Pinned AMI ID per region, or "latest" (staging only, and only where AWS publishes a public parameter)."""
    launched_from: dict[Literal["ap-northeast-1", "ap-northeast-3"], AmiId] | None = None
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


class BusinessSystem(_Model):
    """A standard business system (標準準拠システム): its hosts in its own account and spoke."""

    name_ja: Annotated[Str, Field(min_length=1, max_length=32)]
    account: Annotated[Str, Field(pattern=ROLE_NAME)]
    spoke: Annotated[Str, Field(pattern=ROLE_NAME)]
    certificate_arn: (
        Annotated[Str, Field(pattern=r"^arn:aws:acm:ap-northeast-[13]:[0-9]{12}:certificate/[0-9a-f-]{36}$")] | None
    ) = None
    """ACM certificate of the internal load balancer's TLS listener (required when a role has load_balancer)."""
    operations_emails: Annotated[tuple[Str, ...], Field(min_length=1)]
    roles: Annotated[dict[Annotated[Str, Field(pattern=ROLE_NAME, max_length=16)], HostRole], Field(min_length=1)]

    @field_validator("operations_emails")
    @classmethod
    def _valid_emails(cls, emails: tuple[str, ...]) -> tuple[str, ...]:
        for email in emails:
            if not EMAIL.match(email):
                raise ValueError(f"{email!r} is not a valid e-mail address")
        return emails


class PatchSource(_Model):
    """An update server the city runs on the closed network (WSUS, Satellite or a repository mirror)."""

    url: Annotated[Str, Field(pattern=r"^https://[a-z0-9.-]+(/[^\s]*)?$")]
    """HTTPS on port 443: the spoke's network ACLs admit only HTTPS towards the city hall."""
    cidr: Network
    """Address of the server, for security groups and network ACLs."""


class Patching(_Model):
    approve_after_days: Annotated[Int, Field(ge=0, le=100)]
    """Patches are approved this many days after release (staging shorter than production)."""
    scan_schedule: Cron
    """Daily compliance scan (no reboot)."""
    install_schedules: Annotated[tuple[Cron, Cron], Field()]
    """Two install waves: the members of a pair are in different waves, so they never reboot together."""
    window_hours: Annotated[Int, Field(ge=1, le=6)]
    timezone: Literal["Asia/Tokyo"] = "Asia/Tokyo"
    sources: dict[OperatingSystem, PatchSource] = Field(default_factory=dict)
    """Update server per operating system. Amazon Linux needs none: its repositories are in S3."""


class BackupRule(_Model):
    schedule: Cron
    keep_days: Annotated[Int, Field(ge=1, le=36500)]


class Backup(_Model):
    vault_lock_mode: Literal["governance", "compliance"]
    """compliance: after the grace period nobody, not even the root user, can shorten retention or delete points."""
    min_retention_days: Annotated[Int, Field(ge=1, le=36500)]
    max_retention_days: Annotated[Int, Field(ge=1, le=36500)]
    daily: BackupRule
    weekly: BackupRule
    monthly: BackupRule
    restore_test_schedule: Cron
    restore_test_window_days: Annotated[Int, Field(ge=1, le=365)]
    """The restore test picks the latest recovery point no older than this."""


class Config(_Model):
    environment: EnvironmentSettings
    municipality: Municipality
    regions: Regions
    accounts: dict[Annotated[Str, Field(pattern=ROLE_NAME, max_length=32)], Account]
    account_services: AccountServices
    logging: Logging
    log_archive: LogArchive
    alarms: Alarms
    network: NetworkSettings
    data_lake: DataLake
    linkage: Linkage
    systems: dict[Annotated[Str, Field(pattern=ROLE_NAME, max_length=24)], BusinessSystem] = Field(default_factory=dict)
    patching: Patching | None = None
    backup: Backup | None = None
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

    def account_id(self, role: str) -> str:
        return self.accounts[role].id

    @property
    def log_archive_account_id(self) -> str:
        return self.account_id(self.log_archive.account)

    @property
    def log_archive_key_arn(self) -> str:
        """Deterministic alias ARN by which other accounts refer to the log archive key."""
        return f"arn:aws:kms:{self.regions.primary.name}:{self.log_archive_account_id}:{self.log_archive.key_alias}"

    @property
    def log_bucket_name(self) -> str:
        return f"{self.name}-log-archive-{self.log_archive_account_id}-{self.regions.primary.name}"

    def access_log_bucket_name(self, account_id: str, region: str) -> str:
        return f"{self.name}-access-logs-{account_id}-{region}"

    def data_lake_bucket_name(self, zone: str, region: str | None = None) -> str:
        """``zone`` is raw, curated, analytics or results; Osaka replicas carry the DR region in their name."""
        account = self.account_id(self.data_lake.account)
        return f"{self.name}-dl-{zone}-{account}-{region or self.regions.primary.name}"

    def data_lake_role_arn(self, purpose: str) -> str:
        """Deterministic ARNs of the data lake roles, so that bucket policies can name them without a reference
        from the stateful stack to the stateless one."""
        return f"arn:aws:iam::{self.account_id(self.data_lake.account)}:role/{self.name}-dl-{purpose}"

    def cdk_execution_role_arn(self, role: str, region: str | None = None) -> str:
        """The role CloudFormation deploys with (CDK bootstrap default qualifier)."""
        account = self.account_id(role)
        return (
            f"arn:aws:iam::{account}:role/cdk-hnb659fds-cfn-exec-role-{account}-{region or self.regions.primary.name}"
        )

    @property
    def known_cidrs(self) -> list[str]:
        """Every network the landing zone knows: the hub, the spokes and the city hall side of each segment."""
        net = self.network
        spokes = [s.cidr for s in net.spokes.values()]
        on_premises = [c for seg in net.segments.values() for c in seg.on_premises_cidrs]
        return [net.hub_cidr, *spokes, *on_premises]

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
        used = {role.os for s in systems for role in s.roles.values()}
        return netplan.merge({src.cidr for os_name, src in self.patching.sources.items() if os_name in used})

    def linkage_caller_in(self, spoke: str) -> str | None:
        """The linkage system that calls the platform from ``spoke``, if any: the business system in that spoke
        creates its caller roles."""
        if self.linkage is None:
            return None
        return next((name for name, s in self.linkage.systems.items() if s.spoke == spoke), None)

    def backup_vault_name(self, system: str, region: str | None = None) -> str:
        """Deterministic vault names, so that a plan in Tokyo can name its copy destination in Osaka."""
        suffix = "-dr" if region == self.regions.dr.name else ""
        return f"{self.name}-{system}{suffix}"

    def backup_vault_arn(self, system: str, region: str) -> str:
        account = self.account_id(self.systems[system].account)
        return f"arn:aws:backup:{region}:{account}:backup-vault:{self.backup_vault_name(system, region)}"

    def zones(self, region: str) -> tuple[str, ...]:
        for r in (self.regions.primary, self.regions.dr):
            if r.name == region:
                return r.availability_zones
        raise KeyError(region)


def pascal(name: str) -> str:
    """``resident-registry`` -> ``ResidentRegistry``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_ ]+", name) if part)


@dataclass(frozen=True)
class Problem:
    path: str
    value: Any
    message: str

    def render(self) -> str:
        shown = "" if self.value is _MISSING else f" = {self.value!r}"
        return f"  {self.path or '(top level)'}{shown}: {self.message}"


_MISSING: Any = object()


def _cross_checks(cfg: Config) -> Iterator[Problem]:
    """Rules that relate several keys; field-level rules live on the models."""
    for key in ("primary", "dr"):
        region: Region = getattr(cfg.regions, key)
        allowed = ALLOWED_REGIONS[region.name]
        for i, zone in enumerate(region.availability_zones):
            if zone not in allowed:
                yield Problem(
                    f"regions.{key}.availability_zones[{i}]",
                    zone,
                    f"not a zone of {region.name}; allowed: {', '.join(allowed)}",
                )
    if cfg.regions.primary.name == cfg.regions.dr.name:
        yield Problem("regions.dr.name", cfg.regions.dr.name, "the DR region must differ from the primary region")

    seen: dict[str, str] = {}
    for role, account in cfg.accounts.items():
        if account.id in seen:
            yield Problem(
                f"accounts.{role}.id",
                account.id,
                f"already used by accounts.{seen[account.id]}; each role has its own account",
            )
        seen.setdefault(account.id, role)
        if len(set(account.data_classes)) != len(account.data_classes):
            yield Problem(
                f"accounts.{role}.data_classes", list(account.data_classes), "each data class may be listed once"
            )
    for required in ("log-archive", "network"):
        if required not in cfg.accounts:
            yield Problem(f"accounts.{required}", _MISSING, "required account role is missing")

    la = cfg.log_archive
    if la.account not in cfg.accounts:
        yield Problem("log_archive.account", la.account, f"not an account role; known roles: {', '.join(cfg.accounts)}")
    if la.glacier_after_days <= la.infrequent_access_after_days:
        yield Problem(
            "log_archive.glacier_after_days",
            la.glacier_after_days,
            "must be later than log_archive.infrequent_access_after_days",
        )
    if la.expire_after_days <= la.glacier_after_days:
        yield Problem(
            "log_archive.expire_after_days", la.expire_after_days, "must be later than log_archive.glacier_after_days"
        )
    if la.expire_after_days < la.object_lock_days:
        yield Problem(
            "log_archive.expire_after_days",
            la.expire_after_days,
            "must not be shorter than log_archive.object_lock_days",
        )
    if cfg.is_production and la.object_lock_mode != "COMPLIANCE":
        yield Problem(
            "log_archive.object_lock_mode",
            la.object_lock_mode,
            "production log archives must use COMPLIANCE mode (GOVERNANCE lets privileged users delete logs)",
        )

    for key, value in cfg.tags.items():
        if key in REQUIRED_TAG_KEYS:
            yield Problem(f"tags.{key}", value, f"reserved: {', '.join(REQUIRED_TAG_KEYS)} are set by the landing zone")
        elif key.lower().startswith("aws:") or not 1 <= len(key) <= 128 or not _tag_text_ok(key):
            yield Problem(
                f"tags.{key}",
                value,
                "invalid tag key: 1-128 letters, digits, spaces or _.:/=+-@, not starting with 'aws:'",
            )
        if len(value) > 256 or not _tag_text_ok(value):
            yield Problem(f"tags.{key}", value, "invalid tag value: up to 256 letters, digits, spaces or _.:/=+-@")

    yield from _network_checks(cfg)
    yield from _data_lake_checks(cfg)
    yield from _linkage_checks(cfg)
    yield from _system_checks(cfg)

    any_account = "0" * 12
    for name in (
        f"{cfg.name}-log-archive-{any_account}-{cfg.regions.primary.name}",
        cfg.access_log_bucket_name(any_account, cfg.regions.primary.name),
    ):
        if len(name) > 63:
            yield Problem("environment.name", cfg.name, f"too long: the bucket name {name!r} exceeds 63 characters")


def _network_checks(cfg: Config) -> Iterator[Problem]:
    net = cfg.network
    zones = len(cfg.regions.primary.availability_zones)
    if net.account not in cfg.accounts:
        yield Problem("network.account", net.account, f"not an account role; known roles: {', '.join(cfg.accounts)}")
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

    # Address plan: hub layout, fixed resolver IPs, no overlaps anywhere.
    hub = ipaddress.IPv4Network(net.hub_cidr)
    if hub.prefixlen > netplan.HUB_MAX_PREFIX:
        yield Problem("network.hub_cidr", net.hub_cidr, f"the hub needs at least a /{netplan.HUB_MAX_PREFIX}")
    else:
        resolver_subnets = netplan.allocate(net.hub_cidr, netplan.HUB_TIERS, zones)["Resolver"]
        used = set()
        for i, ip in enumerate(net.resolver_inbound_ips):
            address = ipaddress.IPv4Address(ip)
            inside = [n for n in resolver_subnets if netplan.usable(n, address)]
            if not inside:
                subnets = ", ".join(str(n) for n in resolver_subnets)
                yield Problem(
                    f"network.resolver_inbound_ips[{i}]",
                    ip,
                    f"not a usable address of the resolver subnets ({subnets})",
                )
            else:
                used.add(inside[0])
        if len(used) < 2 and len(net.resolver_inbound_ips) >= 2:
            yield Problem(
                "network.resolver_inbound_ips",
                list(net.resolver_inbound_ips),
                "must lie in at least two zones' subnets",
            )
    networks: list[tuple[str, ipaddress.IPv4Network]] = [("network.hub_cidr", hub)]
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
        if spoke.account not in cfg.accounts:
            yield Problem(
                f"{key}.account", spoke.account, f"not an account role; known roles: {', '.join(cfg.accounts)}"
            )
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
        reachable = [hub] + [ipaddress.IPv4Network(cidr) for cidr in cfg.segment_spoke_cidrs(name, with_allowed=True)]
        for i, allowed_prefix in enumerate(seg.direct_connect_allowed_prefixes):
            advertised = ipaddress.IPv4Network(allowed_prefix)
            if not any(advertised.subnet_of(r) for r in reachable):
                yield Problem(
                    f"{key}.direct_connect_allowed_prefixes[{i}]",
                    allowed_prefix,
                    "not inside the hub or this segment's spokes: the link would advertise another segment",
                )


def _data_lake_checks(cfg: Config) -> Iterator[Problem]:
    lake = cfg.data_lake
    if lake.account not in cfg.accounts:
        yield Problem("data_lake.account", lake.account, f"not an account role; known roles: {', '.join(cfg.accounts)}")
        return
    if "data-lake" not in cfg.accounts[lake.account].data_classes:
        yield Problem(
            f"accounts.{lake.account}.data_classes",
            list(cfg.accounts[lake.account].data_classes),
            "the data lake account must hold the 'data-lake' data class (its buckets use that key)",
        )
    for zone in DATA_LAKE_ZONES:
        if zone not in lake.zones:
            yield Problem(f"data_lake.zones.{zone}", _MISSING, "required zone is missing")
    for zone, life in lake.zones.items():
        steps = [
            (k, v)
            for k, v in (
                ("infrequent_access_after_days", life.infrequent_access_after_days),
                ("glacier_after_days", life.glacier_after_days),
                ("expire_after_days", life.expire_after_days),
            )
            if v is not None
        ]
        for (k1, v1), (k2, v2) in itertools.pairwise(steps):
            if v2 <= v1:
                yield Problem(f"data_lake.zones.{zone}.{k2}", v2, f"must be later than data_lake.zones.{zone}.{k1}")
    if lake.raw_object_lock is not None:
        raw = lake.zones.get("raw")
        if raw is not None and raw.expire_after_days is not None and raw.expire_after_days < lake.raw_object_lock.days:
            yield Problem(
                "data_lake.zones.raw.expire_after_days", raw.expire_after_days, "shorter than the raw zone's lock"
            )
    if len(set(lake.replicate)) != len(lake.replicate):
        yield Problem("data_lake.replicate", list(lake.replicate), "each zone may be listed once")
    longest = max((*DATA_LAKE_ZONES, "results"), key=len)
    for region in (cfg.regions.primary.name, cfg.regions.dr.name):
        name = f"{cfg.name}-dl-{longest}-{'0' * 12}-{region}"
        if len(name) > 63:
            yield Problem("environment.name", cfg.name, f"too long: the bucket name {name!r} exceeds 63 characters")


def _linkage_checks(cfg: Config) -> Iterator[Problem]:
    link = cfg.linkage
    spokes = cfg.network.spokes
    if link.account not in cfg.accounts:
        yield Problem("linkage.account", link.account, f"not an account role; known roles: {', '.join(cfg.accounts)}")
    elif "linkage" not in cfg.accounts[link.account].data_classes:
        yield Problem(
            f"accounts.{link.account}.data_classes",
            list(cfg.accounts[link.account].data_classes),
            "the linkage account must hold the 'linkage' data class",
        )
    if link.spoke not in spokes:
        yield Problem("linkage.spoke", link.spoke, f"not a spoke; known spokes: {', '.join(spokes)}")
    elif spokes[link.spoke].account != link.account:
        yield Problem(
            "linkage.spoke",
            link.spoke,
            f"that spoke lives in account role {spokes[link.spoke].account!r}, not {link.account!r}",
        )
    elif spokes[link.spoke].segment != "mynumber":
        yield Problem(
            "linkage.spoke",
            link.spoke,
            "the linkage platform carries My Number-linked data: its spoke must be in the mynumber segment",
        )
    seen_spokes: dict[str, str] = {}
    for name, system in link.systems.items():
        key = f"linkage.systems.{name}"
        if system.spoke is None:
            pass
        elif system.spoke in seen_spokes:
            yield Problem(
                f"{key}.spoke",
                system.spoke,
                f"already the spoke of linkage system {seen_spokes[system.spoke]!r}: one linkage system per spoke "
                "(the business system there creates its caller roles); give both systems' roles to one entry",
            )
        elif system.spoke not in spokes:
            yield Problem(f"{key}.spoke", system.spoke, f"not a spoke; known spokes: {', '.join(spokes)}")
        elif cfg.account_id(spokes[system.spoke].account) != system.account:
            yield Problem(f"{key}.account", system.account, f"the spoke {system.spoke!r} lives in another account")
        elif "execute-api" not in spokes[system.spoke].endpoints_in_spoke:
            yield Problem(
                f"{key}.spoke",
                system.spoke,
                f"add 'execute-api' to network.spokes.{system.spoke}.endpoints_in_spoke: the API is reached "
                "only through endpoints in the callers' spokes",
            )
        if system.spoke is not None:
            seen_spokes.setdefault(system.spoke, name)
        if system.spoke is None and system.api_endpoint_id is None:
            yield Problem(
                f"{key}.api_endpoint_id",
                _MISSING,
                "required for a system run outside this landing zone: the API admits only known endpoints. Its "
                "vendor reads it with: aws ec2 describe-vpc-endpoints --filters "
                f"Name=service-name,Values=com.amazonaws.{cfg.regions.primary.name}.execute-api "
                "--query 'VpcEndpoints[].[VpcId,VpcEndpointId]'",
            )
        if system.spoke is not None and system.api_endpoint_id is not None:
            yield Problem(
                f"{key}.api_endpoint_id",
                system.api_endpoint_id,
                f"remove it: the endpoint of spoke {system.spoke!r} is created by its spoke stack, and its ID "
                "reaches the linkage stack at deploy time",
            )
    for name, dataset in link.datasets.items():
        key = f"linkage.datasets.{name}"
        for field_name, member in [("producer", dataset.producer), *(("subscribers", s) for s in dataset.subscribers)]:
            if member not in link.systems:
                yield Problem(f"{key}.{field_name}", member, f"not a linkage system; known: {', '.join(link.systems)}")
        if dataset.producer in dataset.subscribers:
            yield Problem(
                f"{key}.subscribers", list(dataset.subscribers), "the producer cannot subscribe to its own dataset"
            )
        for field_name, columns in (("key_column", [dataset.key_column]), ("identifiers", list(dataset.identifiers))):
            for column in columns:
                if column not in dataset.columns:
                    yield Problem(
                        f"{key}.{field_name}",
                        column,
                        f"not a column of the dataset; columns: {', '.join(dataset.columns)}",
                    )


def _system_checks(cfg: Config) -> Iterator[Problem]:
    spokes = cfg.network.spokes
    owner: dict[str, str] = {}
    used_os: dict[str, str] = {}
    for name, system in cfg.systems.items():
        key = f"systems.{name}"
        if system.account not in cfg.accounts:
            yield Problem(
                f"{key}.account", system.account, f"not an account role; known roles: {', '.join(cfg.accounts)}"
            )
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
                f"that spoke lives in account role {spokes[system.spoke].account!r}, not {system.account!r}",
            )
        balanced = [r for r, role in system.roles.items() if role.load_balancer]
        if len(balanced) > 1:
            yield Problem(f"{key}.roles", balanced, "at most one role per system sits behind the load balancer")
        if balanced and system.certificate_arn is None:
            yield Problem(
                f"{key}.certificate_arn", _MISSING, "required: the internal load balancer listens with TLS only"
            )
        if system.certificate_arn and f":{cfg.regions.primary.name}:" not in system.certificate_arn:
            yield Problem(
                f"{key}.certificate_arn",
                system.certificate_arn,
                f"the certificate must be in the primary region {cfg.regions.primary.name}",
            )
        for role_name, role in system.roles.items():
            rkey = f"{key}.roles.{role_name}"
            used_os.setdefault(role.os, rkey)
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
                elif role.os not in LATEST_AMI_PARAMETERS:
                    yield Problem(
                        f"{rkey}.ami",
                        "latest",
                        f"AWS publishes no public SSM parameter for {role.os}: give the AMI ID per region",
                    )
                elif role.launched_from is None:
                    yield Problem(
                        f"{rkey}.launched_from",
                        _MISSING,
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
    if not cfg.systems:
        return

    patching = cfg.patching
    if patching is None:
        yield Problem("patching", _MISSING, "required when business systems are configured")
    else:
        if patching.install_schedules[0] == patching.install_schedules[1]:
            yield Problem(
                "patching.install_schedules",
                list(patching.install_schedules),
                "the two waves must differ, or both members of a pair reboot together",
            )
        for os_name, where in used_os.items():
            if os_name != "amazon-linux-2023" and os_name not in patching.sources:
                yield Problem(
                    f"patching.sources.{os_name}",
                    _MISSING,
                    f"required by {where}: with no internet path, {os_name} hosts patch from an update server the "
                    "city runs (WSUS for Windows, a Satellite or repository mirror for RHEL)",
                )
        if "amazon-linux-2023" in patching.sources:
            yield Problem(
                "patching.sources.amazon-linux-2023",
                patching.sources["amazon-linux-2023"].url,
                "not needed: Amazon Linux repositories are served from S3 through the spoke's gateway endpoint",
            )
        for name, system in cfg.systems.items():
            if system.spoke not in spokes or spokes[system.spoke].segment not in cfg.network.segments:
                continue
            reachable = [ipaddress.IPv4Network(c) for c in cfg.reachable_from(system.spoke)]
            for os_name, source in patching.sources.items():
                if not any(ipaddress.IPv4Network(source.cidr).subnet_of(r) for r in reachable):
                    yield Problem(
                        f"patching.sources.{os_name}.cidr",
                        source.cidr,
                        f"not reachable from the spoke of systems.{name} (its segment's city hall networks)",
                    )

    backup = cfg.backup
    if backup is None:
        yield Problem("backup", _MISSING, "required when business systems are configured")
        return
    if backup.min_retention_days > backup.max_retention_days:
        yield Problem("backup.min_retention_days", backup.min_retention_days, "exceeds backup.max_retention_days")
    for rule_name in ("daily", "weekly", "monthly"):
        rule: BackupRule = getattr(backup, rule_name)
        if not backup.min_retention_days <= rule.keep_days <= backup.max_retention_days:
            yield Problem(
                f"backup.{rule_name}.keep_days",
                rule.keep_days,
                f"outside the vault lock's bounds ({backup.min_retention_days} to {backup.max_retention_days} days): "
                "the vault would refuse the recovery points",
            )
    if backup.daily.keep_days < 7:
        yield Problem(
            "backup.daily.keep_days", backup.daily.keep_days, "the municipal standard keeps at least 7 daily backups"
        )
    if cfg.is_production and backup.vault_lock_mode != "compliance":
        yield Problem(
            "backup.vault_lock_mode",
            backup.vault_lock_mode,
            "production vaults must use compliance mode (governance lets privileged users delete recovery points)",
        )


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _model_at(loc: Iterable[Any]) -> type[BaseModel] | None:
    """The model class that holds the keys at ``loc`` (for did-you-mean suggestions)."""
    tp: Any = Config
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# Keys of earlier config files for IDs that exist only after a deployment; they now flow between the stacks.
RETIRED_KEYS = {
    ("NetworkSettings", "ids"): "the hub's IDs",
    ("Spoke", "vpc_id"): "the spoke's VPC ID",
    ("Spoke", "transit_gateway_attachment_id"): "the spoke's attachment ID",
}


def _pydantic_problems(error: ValidationError) -> Iterator[Problem]:
    for err in error.errors(include_url=False):
        loc = tuple(part for part in err["loc"] if part != "[key]")
        kind = err["type"]
        if kind == "extra_forbidden":
            model = _model_at(loc[:-1])
            retired = RETIRED_KEYS.get((model.__name__ if model else "", str(loc[-1])))
            if retired:
                yield Problem(
                    _path(loc),
                    _MISSING,
                    f"delete this key: config no longer holds {retired}, which exist only after a deployment; "
                    "CloudFormation passes them from the stack that creates them to the stacks that use them",
                )
                continue
            known = list(model.model_fields) if model else []
            guess = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = f"did you mean '{guess[0]}'? " if guess else ""
            yield Problem(_path(loc), err["input"], f"unknown key; {hint}allowed keys: {', '.join(known)}")
        elif kind == "missing":
            yield Problem(_path(loc), _MISSING, "required key is missing")
        else:
            message = err["msg"].removeprefix("Value error, ")
            if kind in ("string_type", "int_type", "bool_type"):
                message += " (TOML: quote strings such as account IDs, write numbers and true/false without quotes)"
            if kind == "string_pattern_mismatch":
                message = f"does not match the allowed form {err['ctx']['pattern']}"
            yield Problem(_path(loc), err["input"], message)


def parse(data: dict[str, Any], source: str) -> Config:
    """Validate already-parsed TOML data. ``source`` names the file in error messages."""
    try:
        cfg = Config.model_validate(data)
    except ValidationError as error:
        raise _error(source, list(_pydantic_problems(error))) from None
    problems = list(_cross_checks(cfg))
    if problems:
        raise _error(source, problems)
    return cfg


def _error(source: str, problems: list[Problem]) -> ConfigError:
    lines = [f"{source}: invalid configuration ({len(problems)} problem{'s' if len(problems) > 1 else ''})"]
    lines += [p.render() for p in problems]
    return ConfigError("\n".join(lines))


def load(path: str | Path) -> Config:
    """Read and validate one configuration file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot be read as UTF-8 text ({error})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    return parse(data, _display(path))


def available_environments(config_dir: Path = CONFIG_DIR) -> list[str]:
    return sorted(p.stem for p in config_dir.glob("*.toml"))


def resolve(env: str | None, config: str | None, config_dir: Path = CONFIG_DIR) -> Path:
    """The file chosen by ``-c env=NAME`` or ``-c config=PATH`` (the default environment when neither is given)."""
    if env and config:
        raise ConfigError(f"give either -c env=NAME or -c config=PATH, not both (got env={env!r}, config={config!r})")
    if config:
        return Path(config)
    name = env or DEFAULT_ENVIRONMENT
    if not re.match(r"^[A-Za-z0-9_.-]+$", name) or not (config_dir / f"{name}.toml").is_file():
        known = ", ".join(available_environments(config_dir)) or "none"
        raise ConfigError(
            f"-c env={name}: no file {_display(config_dir / f'{name}.toml')}; known environments: {known}"
        )
    return config_dir / f"{name}.toml"


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
