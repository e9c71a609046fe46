"""Typed, validated environment configuration.

One TOML file per environment under ``config/`` is parsed into frozen pydantic models. Any problem stops
the load with a :class:`ConfigError` whose message names the file, the key path, the bad value and what is
allowed. This module imports no CDK code and reads nothing but the file it is given.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator

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


class Config(_Model):
    environment: EnvironmentSettings
    municipality: Municipality
    regions: Regions
    accounts: dict[Annotated[Str, Field(pattern=ROLE_NAME, max_length=32)], Account]
    account_services: AccountServices
    logging: Logging
    log_archive: LogArchive
    alarms: Alarms
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

    any_account = "0" * 12
    for name in (
        f"{cfg.name}-log-archive-{any_account}-{cfg.regions.primary.name}",
        cfg.access_log_bucket_name(any_account, cfg.regions.primary.name),
    ):
        if len(name) > 63:
            yield Problem("environment.name", cfg.name, f"too long: the bucket name {name!r} exceeds 63 characters")


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


def _pydantic_problems(error: ValidationError) -> Iterator[Problem]:
    for err in error.errors(include_url=False):
        loc = tuple(part for part in err["loc"] if part != "[key]")
        kind = err["type"]
        if kind == "extra_forbidden":
            model = _model_at(loc[:-1])
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
