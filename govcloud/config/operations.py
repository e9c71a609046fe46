"""Operations: who runs the operations tools (and deploys), and the business systems' hosts: patching (Patch
Manager) and backup (AWS Backup)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from govcloud.config.base import ACCOUNT_ID, MISSING, Cron, Int, Model, Network, Problem, Str
from govcloud.config.systems import OsName
from govcloud.os_profiles import PROFILES

if TYPE_CHECKING:
    from govcloud.config.model import Config


class Operations(Model):
    """Where the infra team works from: the account that deploys (every account's CDK bootstrap trusts it) and the
    people's roles that may assume the read-only operations role the baseline creates in every account."""

    deploying_account: Annotated[Str, Field(pattern=ACCOUNT_ID)]
    """The account ``cdk deploy`` runs in (the team's, or the deploy workflow's): ``preflight`` checks that every
    account's bootstrap trusts it."""
    principals: Annotated[
        tuple[Annotated[Str, Field(pattern=r"^arn:aws:iam::[0-9]{12}:role/[\w+=,.@/*-]{1,128}$")], ...],
        Field(min_length=1),
    ]
    """The roles that may assume the read-only operations role (single sign-on roles of the infra team, say; ``*``
    stands for the suffix IAM Identity Center adds). Nobody else may."""


class PatchSource(Model):
    """An update server the city runs on the closed network (WSUS, Satellite or a repository mirror)."""

    url: Annotated[Str, Field(pattern=r"^https://[a-z0-9.-]+(/[^\s]*)?$")]
    """HTTPS on port 443: the spoke's network ACLs admit only HTTPS towards the city hall."""
    cidr: Network
    """Address of the server, for security groups and network ACLs."""


class Patching(Model):
    approve_after_days: Annotated[Int, Field(ge=0, le=100)]
    """Patches are approved this many days after release (staging shorter than production)."""
    scan_schedule: Cron
    """Daily compliance scan (no reboot)."""
    install_schedules: Annotated[tuple[Cron, Cron], Field()]
    """Two install waves: the members of a pair are in different waves, so they never reboot together."""
    window_hours: Annotated[Int, Field(ge=1, le=6)]
    timezone: Literal["Asia/Tokyo"] = "Asia/Tokyo"
    sources: dict[OsName, PatchSource] = Field(default_factory=dict)
    """Update server per operating system. Amazon Linux needs none: its repositories are in S3."""


class BackupRule(Model):
    schedule: Cron
    keep_days: Annotated[Int, Field(ge=1, le=36500)]


class Backup(Model):
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


# ----- checks across keys -----


def operations_checks(cfg: Config) -> Iterator[Problem]:
    """Patching and backup are required once business systems exist."""
    if not cfg.systems:
        return
    patching = cfg.patching
    spokes = cfg.network.spokes
    used_os: dict[str, str] = {}
    for name, system in cfg.systems.items():
        for host_role, role in system.roles.items():
            used_os.setdefault(role.os, f"systems.{name}.roles.{host_role}")
    if patching is None:
        yield Problem("patching", MISSING, "required when business systems are configured")
    else:
        if patching.install_schedules[0] == patching.install_schedules[1]:
            yield Problem(
                "patching.install_schedules",
                list(patching.install_schedules),
                "the two waves must differ, or both members of a pair reboot together",
            )
        for os_name, where in used_os.items():
            if PROFILES[os_name].patch_source != "s3" and os_name not in patching.sources:
                yield Problem(
                    f"patching.sources.{os_name}",
                    MISSING,
                    f"required by {where}: with no internet path, {os_name} hosts patch from an update server the "
                    "city runs (WSUS for Windows, a Satellite or repository mirror for RHEL)",
                )
        for os_name, source in patching.sources.items():
            if PROFILES[os_name].patch_source == "s3":
                yield Problem(
                    f"patching.sources.{os_name}",
                    source.url,
                    f"not needed: {os_name} repositories are served from S3 through the spoke's gateway endpoint",
                )
        wsus = {source.url for os_name, source in patching.sources.items() if PROFILES[os_name].patch_source == "wsus"}
        if len(wsus) > 1:
            yield Problem(
                "patching.sources",
                sorted(wsus),
                "one WSUS serves every Windows version: a system's Windows hosts are pointed at one update server",
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
        yield Problem("backup", MISSING, "required when business systems are configured")
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
