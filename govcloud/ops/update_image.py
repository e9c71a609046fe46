"""``update-image``: bring a business system's running hosts to the image config names, by root-volume replacement.

A template never changes a running host's image: CloudFormation would replace the instance, and its data volume,
still attached to the old instance, could not attach to the new one. EC2's root-volume replacement
(``CreateReplaceRootVolumeTask`` with an AMI) keeps the instance, its ID, network interfaces, instance profile
and data volumes, and boots the new image. This command does that one host at a time, wave ``a`` before wave
``b`` (the two members of a pair are in different waves), waits until each host is back in Systems Manager, runs
its State Manager associations again (agent, data volume mount), and stops at the first failure. The replaced
root volume is kept (``DeleteReplacedRootVolume`` false), so a host can go back to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from govcloud.config import Config
from govcloud.naming import IMAGE_TAG, ROLE_TAG, SYSTEM_TAG, WAVE_TAG, WAVES
from govcloud.ops.aws import Access, ToolProblem, call
from govcloud.os_profiles import PROFILES

POLL_SECONDS = 15


@dataclass
class Host:
    instance_id: str
    name: str
    role: str
    wave: str
    current_image: str
    target_image: str

    @property
    def needs_update(self) -> bool:
        return self.current_image != self.target_image


@dataclass
class Clock:
    """What the command waits with; tests pass one that does not sleep."""

    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic


def target_image(cfg: Config, system: str, role: str, ssm: Any) -> str:
    """The AMI a role's hosts should run: the configured one, or the newest release for ``latest``."""
    conf = cfg.systems[system].roles[role]
    if isinstance(conf.ami, dict):
        return conf.ami[cfg.regions.primary.name]
    parameter = PROFILES[conf.os].latest_ami_parameter
    assert parameter is not None  # config validation: "latest" only where AWS publishes a parameter
    value: str = call(lambda: ssm.get_parameter(Name=parameter), f"reading {parameter}")["Parameter"]["Value"]
    return value


def plan(cfg: Config, system: str, roles: list[str], ec2: Any, ssm: Any) -> list[Host]:
    """Every running host of ``roles`` (all roles when empty), in the order they would be updated."""
    conf = cfg.systems[system]
    unknown = [r for r in roles if r not in conf.roles]
    if unknown:
        raise ToolProblem(f"systems.{system} has no role {', '.join(unknown)}; roles: {', '.join(conf.roles)}")
    chosen = roles or list(conf.roles)
    targets = {role: target_image(cfg, system, role, ssm) for role in chosen}
    filters = [
        {"Name": "tag:Environment", "Values": [cfg.name]},
        {"Name": f"tag:{SYSTEM_TAG}", "Values": [system]},
        {"Name": f"tag:{ROLE_TAG}", "Values": chosen},
        {"Name": "instance-state-name", "Values": ["running"]},
    ]
    pages = call(lambda: list(ec2.get_paginator("describe_instances").paginate(Filters=filters)), "listing the hosts")
    instances = [i for page in pages for r in page["Reservations"] for i in r["Instances"]]
    replaced = _replaced_images(ec2, [i["InstanceId"] for i in instances])
    hosts = []
    for instance in instances:
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        role = tags.get(ROLE_TAG, "")
        hosts.append(
            Host(
                instance_id=instance["InstanceId"],
                name=tags.get("Name", instance["InstanceId"]),
                role=role,
                wave=tags.get(WAVE_TAG, WAVES[0]),
                current_image=replaced.get(instance["InstanceId"], instance["ImageId"]),
                target_image=targets[role],
            )
        )
    order = {wave: i for i, wave in enumerate(WAVES)}
    return sorted(hosts, key=lambda h: (order.get(h.wave, len(WAVES)), h.name))


def _replaced_images(ec2: Any, instance_ids: list[str]) -> dict[str, str]:
    """The image of each instance's latest successful root-volume replacement from an AMI (its root runs that)."""
    if not instance_ids:
        return {}
    tasks = call(
        lambda: ec2.describe_replace_root_volume_tasks(Filters=[{"Name": "instance-id", "Values": instance_ids}])[
            "ReplaceRootVolumeTasks"
        ],
        "reading earlier root-volume replacements",
    )
    latest: dict[str, tuple[str, str]] = {}
    for task in tasks:
        if task.get("TaskState") != "succeeded":
            continue
        instance, started = task["InstanceId"], str(task.get("StartTime", ""))
        if instance not in latest or started > latest[instance][0]:
            latest[instance] = (started, task.get("ImageId", ""))
    return {instance: image for instance, (_, image) in latest.items() if image}


def render_plan(hosts: list[Host]) -> str:
    rows = [("host", "instance", "role", "wave", "runs", "should run", "action")]
    rows += [
        (
            h.name,
            h.instance_id,
            h.role,
            h.wave,
            h.current_image,
            h.target_image,
            "replace root volume" if h.needs_update else "none",
        )
        for h in hosts
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    todo = sum(h.needs_update for h in hosts)
    lines.append(f"{todo} of {len(hosts)} host(s) to update, one at a time, wave {' then '.join(WAVES)}.")
    return "\n".join(lines) + "\n"


def replace(
    host: Host, ec2: Any, ssm: Any, progress: TextIO, clock: Clock, timeout_minutes: int = 60
) -> tuple[bool, str]:
    """Replace one host's root volume and wait until it is managed again; (succeeded, what happened)."""
    task = call(
        lambda: ec2.create_replace_root_volume_task(
            InstanceId=host.instance_id,
            ImageId=host.target_image,
            DeleteReplacedRootVolume=False,
            ClientToken=f"{host.instance_id}-{host.target_image}"[:64],
        )["ReplaceRootVolumeTask"],
        f"starting the root-volume replacement of {host.name}",
    )
    task_id = task["ReplaceRootVolumeTaskId"]
    started = clock.monotonic()
    deadline = started + timeout_minutes * 60
    state = task.get("TaskState", "pending")
    while state not in ("succeeded", "failed", "failed-detached"):
        if clock.monotonic() > deadline:
            return False, f"{task_id} still {state} after {timeout_minutes} min"
        clock.sleep(POLL_SECONDS)
        found = call(
            lambda: ec2.describe_replace_root_volume_tasks(ReplaceRootVolumeTaskIds=[task_id])[
                "ReplaceRootVolumeTasks"
            ],
            f"following {task_id}",
        )
        state = found[0]["TaskState"] if found else "pending"
        print(f"  {host.name}: {task_id} {state} ({(clock.monotonic() - started) / 60:.0f} min)", file=progress)
    if state != "succeeded":
        return False, f"{task_id} {state}: EC2 keeps the old root volume attached; see the task in the console"
    replaced_at = datetime.now(UTC)
    while not _online_since(ssm, host.instance_id, replaced_at):
        if clock.monotonic() > deadline:
            return False, f"{task_id} succeeded, but the host did not come back to Systems Manager in time"
        clock.sleep(POLL_SECONDS)
    associations = call(
        lambda: ssm.describe_instance_associations_status(InstanceId=host.instance_id)[
            "InstanceAssociationStatusInfos"
        ],
        f"listing the associations of {host.name}",
    )
    ids = sorted({a["AssociationId"] for a in associations})
    if ids:
        call(lambda: ssm.start_associations_once(AssociationIds=ids), f"re-running the associations of {host.name}")
    minutes = (clock.monotonic() - started) / 60
    return True, f"{task_id} succeeded in {minutes:.0f} min; {len(ids)} association(s) run again"


def _online_since(ssm: Any, instance_id: str, since: datetime) -> bool:
    found = call(
        lambda: ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [instance_id]}])[
            "InstanceInformationList"
        ],
        f"reading the Systems Manager status of {instance_id}",
    )
    if not found or found[0].get("PingStatus") != "Online":
        return False
    ping = found[0].get("LastPingDateTime")
    return not isinstance(ping, datetime) or ping.tzinfo is None or ping >= since


def run(
    cfg: Config,
    system: str,
    roles: list[str],
    access: Access,
    *,
    dry_run: bool,
    out: TextIO,
    progress: TextIO,
    clock: Clock | None = None,
) -> int:
    """The whole command: 0 when every host runs its image, 1 when a replacement failed."""
    if system not in cfg.systems:
        raise ToolProblem(f"no business system {system!r} in config; systems: {', '.join(cfg.systems) or 'none'}")
    account = cfg.account_id(cfg.systems[system].account)
    region = cfg.regions.primary.name
    ec2, ssm = access.client("ec2", account, region), access.client("ssm", account, region)
    hosts = plan(cfg, system, roles, ec2, ssm)
    print(render_plan(hosts), end="", file=out)
    if dry_run or not any(h.needs_update for h in hosts):
        return 0
    todo = [h for h in hosts if h.needs_update]
    for number, host in enumerate(todo, start=1):
        print(f"[{number}/{len(todo)}] {host.name}: {host.current_image} -> {host.target_image}", file=progress)
        ok, what = replace(host, ec2, ssm, progress, clock or Clock())
        print(f"[{number}/{len(todo)}] {host.name}: {what}", file=out)
        if not ok:
            print(f"stopped: {len(todo) - number} host(s) not started; fix {host.name} and run again", file=out)
            return 1
    print(f"done: {len(todo)} host(s) now run their configured image; the {IMAGE_TAG} tag of each says which", file=out)
    return 0
