"""The S3 data lake: zones, their lifecycle and lock, replication to Osaka, the catalog's schedule, Athena."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from govcloud.config.base import MISSING, Int, Model, Name, Problem, Str, account_reference

if TYPE_CHECKING:
    from govcloud.config.model import Config


class ZoneLifecycle(Model):
    """Lifecycle of one data lake zone's bucket."""

    infrequent_access_after_days: Annotated[Int, Field(ge=30)] | None = None
    glacier_after_days: Annotated[Int, Field(ge=31)] | None = None
    expire_after_days: Annotated[Int, Field(ge=1, le=36500)] | None = None
    noncurrent_expire_after_days: Annotated[Int, Field(ge=1, le=36500)]


class ObjectLock(Model):
    mode: Literal["GOVERNANCE", "COMPLIANCE"]
    days: Annotated[Int, Field(ge=1, le=36500)]


DATA_LAKE_ZONES = ("raw", "curated", "analytics")
PrincipalPattern = Annotated[Str, Field(pattern=r"^arn:aws:iam::[0-9]{12}:role/[\w+=,.@/*-]{1,128}$")]


class DataLake(Model):
    account: Name
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
    analysts: Annotated[tuple[PrincipalPattern, ...], Field(min_length=1)]
    """The roles people analyse with (the city's single sign-on roles, say): the only principals the analyst role
    trusts. ``*`` may stand for the random suffix that IAM Identity Center adds to its role names."""
    stewards: Annotated[tuple[PrincipalPattern, ...], Field(min_length=1)]
    """The roles data stewards work with: the only principals the steward role (every zone, raw included) trusts."""


# ----- checks across keys -----


def data_lake_checks(cfg: Config) -> Iterator[Problem]:
    lake = cfg.data_lake
    if lake.account not in cfg.accounts:
        yield from account_reference("data_lake.account", lake.account, cfg.accounts)
        return
    if "data-lake" not in cfg.accounts[lake.account].data_classes:
        yield Problem(
            f"accounts.{lake.account}.data_classes",
            list(cfg.accounts[lake.account].data_classes),
            "the data lake account must hold the 'data-lake' data class (its buckets use that key)",
        )
    for zone in DATA_LAKE_ZONES:
        if zone not in lake.zones:
            yield Problem(f"data_lake.zones.{zone}", MISSING, "required zone is missing")
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
