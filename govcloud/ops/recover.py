"""``recover``: bring a business system's hosts and data volumes back in Osaka, from the air-gapped vault, into the
pilot light.

For every host and data volume the vault holds, the latest completed recovery point is restored: a host into its
tier's subnet of the Osaka spoke in the zone of its number (host 1 in the first zone, ...), with its role's Osaka
security group and its instance profile (IAM is global); a data volume into its host's zone. Restore jobs run as the
system's backup role. ``--dry-run`` prints the plan and starts nothing. Nothing here changes a template: the
restored hosts are outside CloudFormation, and the command ends with what to do next.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from govcloud import naming
from govcloud.config import Config, pascal
from govcloud.ops.aws import Access, ToolProblem, call
from govcloud.ops.checks import pages
from govcloud.ops.update_image import Clock

POLL_SECONDS = 30
HOST_NAME = re.compile(r"^(?P<prefix>.+)-(?P<role>[a-z0-9]+)-(?P<index>[0-9]+)(?P<data>-data)?$")


@dataclass
class Restore:
    kind: str  # "EC2" or "EBS"
    name: str
    role: str
    index: int
    point: str
    created: datetime
    zone: str
    subnet: str = ""
    group: str = ""
    profile: str = ""
    target_group: str = ""
    """The Osaka load balancer's target group this host joins (its role is behind the load balancer)."""


def plan(cfg: Config, system: str, access: Access) -> list[Restore]:
    conf = cfg.systems[system]
    account = cfg.account_id(conf.account)
    region = cfg.regions.dr.name
    zones = cfg.regions.dr.availability_zones
    vault = naming.backup_vault(cfg, system, region)
    backup = access.client("backup", account, region)
    points = list(
        pages(
            backup,
            "list_recovery_points_by_backup_vault",
            "RecoveryPoints",
            f"listing the recovery points in {vault} (Osaka)",
            BackupVaultName=vault,
        )
    )
    latest: dict[str, dict[str, Any]] = {}
    for point in points:
        if point.get("Status") != "COMPLETED":
            continue
        source = point["ResourceArn"]
        if source not in latest or point["CreationDate"] > latest[source]["CreationDate"]:
            latest[source] = point
    if not latest:
        raise ToolProblem(f"{vault} in Osaka holds no completed recovery point of {system}: nothing to recover")
    subnets = _subnets(cfg, system, access)
    outputs = _recovery_outputs(cfg, system, access)
    groups = {
        role: outputs[naming.recovery_group_output(role)]
        for role in [*conf.roles, "load-balancer"]
        if naming.recovery_group_output(role) in outputs
    }
    restores: list[Restore] = []
    for source, point in sorted(latest.items(), key=lambda item: item[1]["ResourceType"]):
        tags = call(
            lambda: backup.list_tags(ResourceArn=point["RecoveryPointArn"]).get("Tags", {}),
            f"reading the tags of {point['RecoveryPointArn']}",
        )
        name = tags.get("Name", "")
        match = HOST_NAME.match(name)
        if match is None or match["role"] not in conf.roles:
            raise ToolProblem(
                f"{source}: its recovery point has no Name tag of a host of {system} ({name or 'none'}); "
                "restore it by hand (README: recovery drill)"
            )
        role, index = match["role"], int(match["index"])
        zone = zones[(index - 1) % len(zones)]
        restore = Restore(
            kind="EBS" if point["ResourceType"] == "EBS" else "EC2",
            name=name,
            role=role,
            index=index,
            point=point["RecoveryPointArn"],
            created=point["CreationDate"],
            zone=zone,
        )
        if restore.kind == "EC2":
            tier = naming.TIER_SUBNETS[conf.roles[role].tier]
            restore.subnet = subnets.get((tier, zone), "")
            restore.group = groups.get(role, "")
            restore.profile = naming.host_role(cfg, system, role)
            if conf.roles[role].load_balancer:
                restore.target_group = outputs.get(naming.recovery_target_group_output(role), "")
            if not restore.subnet or not restore.group:
                raise ToolProblem(
                    f"no {tier} subnet in {zone} or no security group of {role} in Osaka: deploy the pilot light "
                    f'first ([disaster_recovery] mode = "pilot-light", stacks Spoke-{pascal(conf.spoke)}-Osaka and '
                    f"Recovery-{pascal(system)})"
                )
        restores.append(restore)
    return sorted(restores, key=lambda r: (r.kind != "EC2", r.role, r.index))


def _subnets(cfg: Config, system: str, access: Access) -> dict[tuple[str, str], str]:
    conf = cfg.systems[system]
    ec2 = access.client("ec2", cfg.account_id(conf.account), cfg.regions.dr.name)
    stack = f"{pascal(cfg.name)}-Spoke-{pascal(conf.spoke)}-Osaka"
    found = call(
        lambda: ec2.describe_subnets(Filters=[{"Name": "tag:aws:cloudformation:stack-name", "Values": [stack]}]),
        f"listing the subnets of {stack}",
    ).get("Subnets", [])
    out = {}
    for subnet in found:
        tags = {t["Key"]: t["Value"] for t in subnet.get("Tags", [])}
        out[(tags.get("aws-cdk:subnet-name", ""), subnet["AvailabilityZone"])] = subnet["SubnetId"]
    return out


def _recovery_outputs(cfg: Config, system: str, access: Access) -> dict[str, str]:
    """The outputs of the system's Osaka recovery stack: its security groups and its load balancer's target group."""
    conf = cfg.systems[system]
    cfn = access.client("cloudformation", cfg.account_id(conf.account), cfg.regions.dr.name)
    stack = f"{pascal(cfg.name)}-Recovery-{pascal(system)}"
    found = call(
        lambda: cfn.describe_stacks(StackName=stack)["Stacks"], f"reading {stack} (deploy the pilot light first)"
    )
    return {o["OutputKey"]: o["OutputValue"] for o in found[0].get("Outputs", [])}


def metadata(restore: Restore, original: dict[str, str]) -> dict[str, str]:
    """The restore metadata AWS Backup returned, pointed at the pilot light."""
    changed = dict(original)
    if restore.kind == "EC2":
        changed.update(
            {
                "SubnetId": restore.subnet,
                "SecurityGroupIds": json.dumps([restore.group]),
                "IamInstanceProfileName": restore.profile,
                "RequireIMDSv2": "true",
            }
        )
        changed.pop("NetworkInterfaces", None)  # the Tokyo interfaces: the subnet and group above replace them
    else:
        changed["availabilityZone"] = restore.zone
    return changed


def run(
    cfg: Config,
    system: str,
    access: Access,
    *,
    dry_run: bool,
    out: TextIO,
    progress: TextIO,
    clock: Clock | None = None,
) -> int:
    if system not in cfg.systems:
        raise ToolProblem(f"--system {system}: not a business system; known: {', '.join(cfg.systems)}")
    if cfg.disaster_recovery.mode != "pilot-light":
        raise ToolProblem(
            f'{cfg.name} keeps copies only in Osaka: set [disaster_recovery] mode = "pilot-light" and deploy it '
            "before recovering there"
        )
    clock = clock or Clock()
    restores = plan(cfg, system, access)
    out.write(
        f"{'resource':<40} {'kind':<4} {'role':<6} {'point (UTC)':<17} {'zone':<16} {'subnet':<26} "
        f"{'security group':<22} profile\n"
    )
    for r in restores:
        out.write(
            f"{r.name:<40} {r.kind:<4} {r.role:<6} {r.created:%Y-%m-%d %H:%M} {r.zone:<16} "
            f"{r.subnet or '-':<26} {r.group or '-':<22} {r.profile or '-'}\n"
        )
    out.write(f"{len(restores)} restore job(s) from {naming.backup_vault(cfg, system, cfg.regions.dr.name)}.\n")
    joining = [r for r in restores if r.target_group]
    if joining:
        out.write(
            f"{', '.join(r.name for r in joining)} join the Osaka load balancer's target group "
            f"{joining[0].target_group} once they run.\n"
        )
    if dry_run:
        out.write("Dry run: nothing started.\n")
        return 0
    conf = cfg.systems[system]
    account = cfg.account_id(conf.account)
    region = cfg.regions.dr.name
    backup = access.client("backup", account, region)
    role_arn = naming.role_arn(account, f"{naming.system_prefix(cfg, system)}-backup")
    vault = naming.backup_vault(cfg, system, region)
    jobs: dict[str, str] = {}
    for r in restores:
        original = call(
            lambda: backup.get_recovery_point_restore_metadata(BackupVaultName=vault, RecoveryPointArn=r.point),
            f"reading the restore metadata of {r.name}",
        )["RestoreMetadata"]
        job = call(
            lambda: backup.start_restore_job(
                RecoveryPointArn=r.point, Metadata=metadata(r, original), IamRoleArn=role_arn, ResourceType=r.kind
            ),
            f"starting the restore of {r.name}",
        )
        jobs[r.name] = job["RestoreJobId"]
        progress.write(f"started {r.name}: {job['RestoreJobId']}\n")
    failed, created = _wait(backup, jobs, clock, progress)
    registered = _register(access, account, region, [r for r in restores if r.target_group], created, progress)
    out.write(
        "\nNext:\n"
        "- attach each restored data volume to its host (aws ec2 attach-volume; the mount association runs on it)\n"
        + (
            f"- {len(registered)} host(s) joined the Osaka load balancer's target group: point the city's DNS name "
            "of the system at that load balancer (aws elbv2 describe-load-balancers --region ap-northeast-3)\n"
            if registered
            else "- point the city's DNS for the system at the restored hosts\n"
        )
        + "- the stacks do not manage the restored hosts: when Tokyo is back, restore there from the newest points "
        "and terminate these\n"
    )
    return 1 if failed else 0


def _register(
    access: Access, account: str, region: str, joining: list[Restore], created: dict[str, str], progress: TextIO
) -> list[str]:
    """Register each restored host of the load-balanced role with the target group, once it runs."""
    instances = {r.name: created[r.name].rsplit("/", 1)[-1] for r in joining if r.name in created}
    if not instances:
        return []
    ec2 = access.client("ec2", account, region)
    elbv2 = access.client("elbv2", account, region)
    call(
        lambda: ec2.get_waiter("instance_running").wait(
            InstanceIds=sorted(instances.values()), WaiterConfig={"Delay": 15, "MaxAttempts": 40}
        ),
        "waiting for the restored hosts to run",
    )
    for r in joining:
        if r.name in instances:
            call(
                lambda: elbv2.register_targets(TargetGroupArn=r.target_group, Targets=[{"Id": instances[r.name]}]),
                f"registering {r.name} with the load balancer",
            )
            progress.write(f"registered {r.name} ({instances[r.name]}) with {r.target_group}\n")
    return sorted(instances)


def _wait(backup: Any, jobs: dict[str, str], clock: Clock, progress: TextIO) -> tuple[list[str], dict[str, str]]:
    """The restores that failed, and the ARN of what each completed one created."""
    pending = dict(jobs)
    failed: list[str] = []
    created: dict[str, str] = {}
    started = clock.monotonic()
    while pending:
        for name, job_id in list(pending.items()):
            job = call(lambda: backup.describe_restore_job(RestoreJobId=job_id), f"reading restore job {job_id}")
            status = job.get("Status")
            if status in ("COMPLETED", "ABORTED", "FAILED"):
                del pending[name]
                progress.write(f"{name}: {status} {job.get('CreatedResourceArn', job.get('StatusMessage', ''))}\n")
                if status != "COMPLETED":
                    failed.append(name)
                elif job.get("CreatedResourceArn"):
                    created[name] = job["CreatedResourceArn"]
        if pending:
            minutes = (clock.monotonic() - started) / 60
            progress.write(f"waiting for {len(pending)} restore job(s), {minutes:.0f} min so far\n")
            clock.sleep(POLL_SECONDS)
    return failed, created
