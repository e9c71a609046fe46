"""The environment and its accounts: name and stage, municipality, regions, accounts, the account services the
Government Cloud may already provide, logging, the log archive, alarms and tags."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator

from govcloud import naming
from govcloud.config.base import (
    ACCOUNT_ID,
    Bool,
    Int,
    Model,
    Name,
    Problem,
    Str,
    account_reference,
    emails,
)
from govcloud.config.data_lake import DATA_LAKE_ZONES

if TYPE_CHECKING:
    from govcloud.config.model import Config

# The Government Cloud landing zone may only place resources in Tokyo and Osaka.
ALLOWED_REGIONS: dict[str, tuple[str, ...]] = {
    "ap-northeast-1": ("ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"),
    "ap-northeast-3": ("ap-northeast-3a", "ap-northeast-3b", "ap-northeast-3c"),
}
RegionName = Literal["ap-northeast-1", "ap-northeast-3"]

# Retention periods that CloudWatch Logs accepts (PutRetentionPolicy).
CLOUDWATCH_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

# Tags every resource carries; their values come from the config and the stacks, never from the [tags] table.
REQUIRED_TAG_KEYS = ("Municipality", "Environment", "System", "DataClassification", "ManagedBy")
MANAGED_BY = "cdk"
TAG_SPECIAL_CHARS = set(" _.:/=+-@")

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


class EnvironmentSettings(Model):
    name: Annotated[Str, Field(pattern=r"^[a-z][a-z0-9-]{1,21}[a-z0-9]$")]
    """Lower-case name used in resource names and, in PascalCase, as the stack prefix (3 to 23 characters)."""
    stage: Literal["staging", "production"]


def _check_digit(code: str) -> int:
    """Check digit of a local government code (全国地方公共団体コード), JIS X 0402 / 総務省 rule."""
    total = sum(int(d) * w for d, w in zip(code[:5], (6, 5, 4, 3, 2), strict=True))
    return (11 - total % 11) % 10


class Municipality(Model):
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


class Region(Model):
    name: RegionName
    availability_zones: Annotated[tuple[Str, ...], Field(min_length=2)]

    @field_validator("availability_zones")
    @classmethod
    def _unique(cls, zones: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(zones)) != len(zones):
            raise ValueError("each availability zone may be listed once")
        return zones


class Regions(Model):
    primary: Region
    dr: Region


class Account(Model):
    id: Annotated[Str, Field(pattern=ACCOUNT_ID)]
    """Twelve-digit AWS account ID, as a quoted string."""
    data_classes: tuple[Literal["resident-data", "data-lake", "linkage"], ...] = ()
    """Data held in this account besides logs; each gets its own key. The first one is the EBS default key."""
    monthly_budget_usd: Annotated[Int, Field(gt=0, le=1_000_000)]


AccountName = Annotated[Name, Field(max_length=32)]
"""The name of an account in ``[accounts]`` (``resident-registry``): what other keys refer to it by."""


class AccountServices(Model):
    """Account-level services the Government Cloud may already provide. True: this landing zone creates them."""

    guardduty: Bool
    security_hub: Bool
    config_recorder: Bool
    cloudtrail: Bool


class Logging(Model):
    retention_days: Int
    """Retention of every CloudWatch log group; also the minimum the compliance rules accept."""

    @field_validator("retention_days")
    @classmethod
    def _allowed_retention(cls, value: int) -> int:
        if value not in CLOUDWATCH_RETENTION_DAYS:
            allowed = ", ".join(str(d) for d in CLOUDWATCH_RETENTION_DAYS)
            raise ValueError(f"CloudWatch Logs accepts only these retention periods (days): {allowed}")
        return value


class LogArchive(Model):
    account: Name
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


class BreakGlass(Model):
    """The one role that may delete, disable or replace the policy of a key, and only with MFA."""

    role: Annotated[Str, Field(pattern=r"^[\w+=,.@-]{1,64}$")]
    """Its name, the same in every account. The Government Cloud's administrators create it outside this landing
    zone (a prerequisite) and assume it with MFA; the key policies name it by condition only."""


class Alarms(Model):
    emails: Annotated[tuple[Str, ...], Field(min_length=1)]

    @field_validator("emails")
    @classmethod
    def _valid_emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return emails(value)


def _tag_text_ok(text: str) -> bool:
    return all(ch.isalnum() or ch in TAG_SPECIAL_CHARS for ch in text)


# ----- checks across keys -----


def region_checks(cfg: Config) -> Iterator[Problem]:
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


def account_checks(cfg: Config) -> Iterator[Problem]:
    seen: dict[str, str] = {}
    for name, account in cfg.accounts.items():
        if account.id in seen:
            yield Problem(
                f"accounts.{name}.id",
                account.id,
                f"already used by accounts.{seen[account.id]}; each account of the environment is its own",
            )
        seen.setdefault(account.id, name)
        if len(set(account.data_classes)) != len(account.data_classes):
            yield Problem(
                f"accounts.{name}.data_classes", list(account.data_classes), "each data class may be listed once"
            )


def log_archive_checks(cfg: Config) -> Iterator[Problem]:
    la = cfg.log_archive
    yield from account_reference("log_archive.account", la.account, cfg.accounts)
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


def tag_checks(cfg: Config) -> Iterator[Problem]:
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


def name_length_checks(cfg: Config) -> Iterator[Problem]:
    """Bucket names hold the environment's name, an account ID and a region, and S3 allows 63 characters."""
    for name in naming.longest_bucket_names(cfg, (*DATA_LAKE_ZONES, "results")):
        if len(name) > naming.BUCKET_NAME_MAX:
            yield Problem(
                "environment.name",
                cfg.name,
                f"too long: the bucket name {name!r} exceeds {naming.BUCKET_NAME_MAX} characters",
            )
