"""``verify``: a deployed environment keeps the design's promises, checked after a deployment (and any day).

Read-only, except that drift detection asks CloudFormation to compare each stack with its resources (it changes
neither).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from govcloud import naming
from govcloud.config import pascal
from govcloud.ops.checks import Check, Env, Result, call, hours, ours, pages

BACKUP_MAX_AGE = timedelta(hours=26)
RTO = timedelta(hours=12)
DRIFT_POLL_SECONDS = 5
DRIFT_TIMEOUT_SECONDS = 600
BLOCK_MODE = "block-bidirectional"


def _where(env: Env) -> Iterator[tuple[str, str]]:
    for account in env.cfg.accounts:
        for region in env.regions:
            yield account, region


def internet_path(env: Env) -> Iterator[Result]:
    """No internet gateway, NAT gateway, Elastic IP or public IP anywhere."""
    for account, region in _where(env):
        ec2 = env.client("ec2", account, region)
        found = [
            f"internet gateway {g['InternetGatewayId']}"
            for g in pages(ec2, "describe_internet_gateways", "InternetGateways", "listing internet gateways")
        ]
        found += [
            f"NAT gateway {g['NatGatewayId']}"
            for g in pages(ec2, "describe_nat_gateways", "NatGateways", "listing NAT gateways")
            if g.get("State") not in ("deleted", "deleting")
        ]
        addresses = call(ec2.describe_addresses, "listing Elastic IPs").get("Addresses", [])
        found += [f"Elastic IP {a.get('PublicIp')}" for a in addresses]
        found += [
            f"public IP {n['Association']['PublicIp']} on {n['NetworkInterfaceId']}"
            for n in pages(ec2, "describe_network_interfaces", "NetworkInterfaces", "listing network interfaces")
            if n.get("Association", {}).get("PublicIp")
        ]
        yield env.result(account, region, "internet path", "none", "; ".join(found) or "none", not found)


def block_public_access(env: Env) -> Iterator[Result]:
    """VPC Block Public Access blocks internet-gateway traffic both ways, in both regions."""
    for account, region in _where(env):
        ec2 = env.client("ec2", account, region)
        options = call(ec2.describe_vpc_block_public_access_options, "reading VPC Block Public Access")
        mode = options.get("VpcBlockPublicAccessOptions", {}).get("InternetGatewayBlockMode", "off")
        yield env.result(account, region, "VPC Block Public Access", BLOCK_MODE, mode, mode == BLOCK_MODE)


def flow_logs(env: Env) -> Iterator[Result]:
    """Every VPC has an active flow log that delivers."""
    for account, region in _where(env):
        ec2 = env.client("ec2", account, region)
        logs = list(pages(ec2, "describe_flow_logs", "FlowLogs", "listing flow logs"))
        for vpc in pages(ec2, "describe_vpcs", "Vpcs", "listing VPCs"):
            mine = [f for f in logs if f.get("ResourceId") == vpc["VpcId"]]
            delivering = [
                f for f in mine if f.get("FlowLogStatus") == "ACTIVE" and f.get("DeliverLogsStatus") == "SUCCESS"
            ]
            text = "delivering" if delivering else ("not delivering" if mine else "no flow log")
            yield env.result(account, region, vpc["VpcId"], "delivering", text, bool(delivering))


def endpoints(env: Env) -> Iterator[Result]:
    """Every VPC endpoint is available."""
    for account, region in _where(env):
        ec2 = env.client("ec2", account, region)
        for endpoint in pages(ec2, "describe_vpc_endpoints", "VpcEndpoints", "listing VPC endpoints"):
            state = str(endpoint.get("State", "")).lower()
            subject = f"{endpoint.get('ServiceName', '')} {endpoint['VpcEndpointId']}"
            yield env.result(account, region, subject, "available", state, state == "available")


def buckets(env: Env) -> Iterator[Result]:
    """Every bucket of the environment: encrypted with its key (SSE-S3 for access logs, which S3 requires),
    versioned, public access blocked, Object Lock as configured."""
    cfg = env.cfg
    locked = {naming.log_bucket(cfg): cfg.log_archive.object_lock_mode}
    if cfg.data_lake.raw_object_lock is not None:
        for region in env.regions:
            locked[naming.data_lake_bucket(cfg, "raw", None if region == env.regions[0] else region)] = (
                cfg.data_lake.raw_object_lock.mode
            )
    for account in cfg.accounts:
        s3 = env.client("s3", account)
        for bucket in call(s3.list_buckets, "listing buckets").get("Buckets", []):
            name = bucket["Name"]
            if not ours(cfg, name):
                continue
            problems = []
            rules = call(
                lambda: s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"],
                f"reading the encryption of {name}",
                missing=("ServerSideEncryptionConfigurationNotFoundError",),
            ) or [{}]
            algorithm = rules[0].get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm", "none")
            wanted = "AES256" if "-access-logs-" in name else "aws:kms"
            if algorithm != wanted:
                problems.append(f"encryption {algorithm}")
            versioning = call(lambda: s3.get_bucket_versioning(Bucket=name), f"reading the versioning of {name}")
            if versioning.get("Status") != "Enabled":
                problems.append("not versioned")
            block = (
                call(
                    lambda: s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"],
                    f"reading the public access block of {name}",
                    missing=("NoSuchPublicAccessBlockConfiguration",),
                )
                or {}
            )
            if not all(
                block.get(k)
                for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
            ):
                problems.append("public access not blocked")
            if name in locked:
                lock = (
                    call(
                        lambda: s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"],
                        f"reading the Object Lock of {name}",
                        missing=("ObjectLockConfigurationNotFoundError",),
                    )
                    or {}
                )
                mode = lock.get("Rule", {}).get("DefaultRetention", {}).get("Mode")
                if mode != locked[name]:
                    problems.append(f"Object Lock {mode or 'off'}")
            expected = f"{wanted}, versioned, private" + (f", Object Lock {locked[name]}" if name in locked else "")
            yield env.result(account, "global", name, expected, "; ".join(problems) or "as expected", not problems)


def ebs_encryption(env: Env) -> Iterator[Result]:
    """EBS default encryption on, with the account's key, and no unencrypted volume."""
    for account, region in _where(env):
        settings = env.cfg.accounts[account]
        data_class = settings.data_classes[0] if settings.data_classes else "logs"
        ec2 = env.client("ec2", account, region)
        kms = env.client("kms", account, region)
        on = call(ec2.get_ebs_encryption_by_default, "reading EBS default encryption").get("EbsEncryptionByDefault")
        key = call(ec2.get_ebs_default_kms_key_id, "reading EBS's default key").get("KmsKeyId", "")
        alias = naming.key_alias(env.cfg, data_class)
        wanted = call(
            lambda: kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"],
            f"reading {alias}",
            missing=("NotFoundException",),
        )
        ok = bool(on) and wanted is not None and key in (wanted, wanted.split("/")[-1] if wanted else "")
        yield env.result(
            account,
            region,
            "EBS default encryption",
            f"on, {alias}",
            f"{'on' if on else 'off'}, {key or 'AWS managed key'}",
            ok,
        )
        plain = [
            v["VolumeId"]
            for v in pages(ec2, "describe_volumes", "Volumes", "listing volumes")
            if not v.get("Encrypted")
        ]
        yield env.result(
            account,
            region,
            "EBS volumes",
            "all encrypted",
            "unencrypted: " + ", ".join(plain) if plain else "all encrypted",
            not plain,
        )


def _instances(env: Env, system: str) -> list[dict[str, Any]]:
    account = env.cfg.systems[system].account
    ec2 = env.client("ec2", account)
    reservations = pages(
        ec2,
        "describe_instances",
        "Reservations",
        f"listing the hosts of {system}",
        Filters=[
            {"Name": f"tag:{naming.BACKUP_TAG}", "Values": [naming.system_prefix(env.cfg, system)]},
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
        ],
    )
    return [i for r in reservations for i in r["Instances"]]


def _name(resource: dict[str, Any], default: str) -> str:
    return next((t["Value"] for t in resource.get("Tags", []) if t["Key"] == "Name"), default)


def hosts(env: Env) -> Iterator[Result]:
    """Every host: IMDSv2 only, no public IP, managed by Systems Manager and online, patch-compliant."""
    region = env.regions[0]
    for system, settings in env.cfg.systems.items():
        account = settings.account
        instances = _instances(env, system)
        ssm = env.client("ssm", account)
        ids = [i["InstanceId"] for i in instances]
        managed = {
            i["InstanceId"]: i.get("PingStatus")
            for i in (
                pages(
                    ssm,
                    "describe_instance_information",
                    "InstanceInformationList",
                    "reading managed hosts",
                    Filters=[{"Key": "InstanceIds", "Values": ids}],
                )
                if ids
                else []
            )
        }
        compliance = {
            c["ResourceId"]: c.get("Status")
            for c in pages(
                ssm,
                "list_resource_compliance_summaries",
                "ResourceComplianceSummaryItems",
                "reading patch compliance",
                Filters=[{"Key": "ComplianceType", "Values": ["Patch"], "Type": "EQUAL"}],
            )
        }
        for instance in instances:
            iid = instance["InstanceId"]
            problems = []
            if instance.get("MetadataOptions", {}).get("HttpTokens") != "required":
                problems.append("IMDSv1 allowed")
            if instance.get("PublicIpAddress"):
                problems.append(f"public IP {instance['PublicIpAddress']}")
            if managed.get(iid) != "Online":
                problems.append(f"Systems Manager: {managed.get(iid, 'not managed')}")
            if compliance.get(iid) != "COMPLIANT":
                problems.append(f"patches: {compliance.get(iid, 'not scanned')}")
            expected = "IMDSv2, private, SSM online, patch-compliant"
            yield env.result(
                account,
                region,
                f"{_name(instance, iid)} {iid}",
                expected,
                "; ".join(problems) or "as expected",
                not problems,
            )


def backups(env: Env) -> Iterator[Result]:
    """The last recovery point of every host and data volume is at most 26 hours old, and its copy is in Osaka."""
    tokyo, osaka = env.regions
    for system, settings in env.cfg.systems.items():
        account = settings.account
        prefix = naming.system_prefix(env.cfg, system)
        resources = [
            (f"arn:aws:ec2:{tokyo}:{env.cfg.account_id(account)}:instance/{i['InstanceId']}", _name(i, i["InstanceId"]))
            for i in _instances(env, system)
        ]
        ec2 = env.client("ec2", account)
        volumes = pages(
            ec2,
            "describe_volumes",
            "Volumes",
            f"listing the volumes of {system}",
            Filters=[{"Name": f"tag:{naming.BACKUP_TAG}", "Values": [prefix]}],
        )
        resources += [
            (f"arn:aws:ec2:{tokyo}:{env.cfg.account_id(account)}:volume/{v['VolumeId']}", _name(v, v["VolumeId"]))
            for v in volumes
            if _name(v, "").endswith("-data")
        ]
        backup = env.client("backup", account, tokyo)
        dr = env.client("backup", account, osaka)
        vault = naming.backup_vault(env.cfg, system, osaka)
        for arn, name in resources:
            points = list(
                pages(
                    backup,
                    "list_recovery_points_by_resource",
                    "RecoveryPoints",
                    f"listing the recovery points of {name}",
                    ResourceArn=arn,
                )
            )
            done = [p for p in points if p.get("Status") == "COMPLETED"]
            latest = max((p["CreationDate"] for p in done), default=None)
            expected = f"within {hours(BACKUP_MAX_AGE.total_seconds())}, copied to Osaka"
            if latest is None:
                yield env.result(account, tokyo, name, expected, "no recovery point", False)
                continue
            age = env.now - latest
            copies = list(
                pages(
                    dr,
                    "list_recovery_points_by_backup_vault",
                    "RecoveryPoints",
                    f"listing the Osaka copies of {name}",
                    BackupVaultName=vault,
                    ByResourceArn=arn,
                )
            )
            copied = any(c.get("CreationDate") and c["CreationDate"] >= latest for c in copies)
            problems = []
            if age > BACKUP_MAX_AGE:
                problems.append(f"last {hours(age.total_seconds())} ago")
            if not copied:
                problems.append(f"no Osaka copy in {vault} of the point of {latest:%Y-%m-%d %H:%M}")
            text = "; ".join(problems) or f"last {hours(age.total_seconds())} ago, copied"
            yield env.result(account, tokyo, name, expected, text, not problems)


def restore_tests(env: Env) -> Iterator[Result]:
    """Restore tests ran in their window and each took less than the 12-hour recovery time objective."""
    region = env.regions[0]
    backup_settings = env.cfg.backup
    if backup_settings is None:
        return
    window = timedelta(days=backup_settings.restore_test_window_days + 7)
    for system, settings in env.cfg.systems.items():
        account = settings.account
        client = env.client("backup", account, region)
        jobs = [
            j
            for j in pages(
                client,
                "list_restore_jobs",
                "RestoreJobs",
                f"listing the restore jobs of {system}",
                ByCreatedAfter=env.now - window,
            )
            if j.get("Status") == "COMPLETED" and j.get("CompletionDate")
        ]
        expected = f"a completed restore in {window.days} days, each under {hours(RTO.total_seconds())}"
        if not jobs:
            yield env.result(account, region, f"{system} restore tests", expected, "none completed", False)
            continue
        longest = max(j["CompletionDate"] - j["CreationDate"] for j in jobs)
        text = f"{len(jobs)} completed, longest {hours(longest.total_seconds())}"
        yield env.result(account, region, f"{system} restore tests", expected, text, longest <= RTO)


def alarms(env: Env) -> Iterator[Result]:
    """No alarm stuck in ALARM."""
    for account, region in _where(env):
        cloudwatch = env.client("cloudwatch", account, region)
        firing = list(pages(cloudwatch, "describe_alarms", "MetricAlarms", "listing alarms", StateValue="ALARM"))
        text = ", ".join(a["AlarmName"] for a in firing) or "none"
        yield env.result(account, region, "alarms in ALARM", "none", text, not firing)


def drift(env: Env) -> Iterator[Result]:
    """No stack of the environment has drifted; a drifted one names its drifted resources."""
    prefix = f"{pascal(env.cfg.name)}-"
    for account, region in _where(env):
        cfn = env.client("cloudformation", account, region)
        stacks = [
            s["StackName"]
            for s in pages(cfn, "describe_stacks", "Stacks", "listing stacks")
            if s["StackName"].startswith(prefix)
        ]
        for stack in stacks:
            detection = call(lambda: cfn.detect_stack_drift(StackName=stack), f"starting drift detection of {stack}")
            waited = 0.0
            while True:
                status = call(
                    lambda: cfn.describe_stack_drift_detection_status(
                        StackDriftDetectionId=detection["StackDriftDetectionId"]
                    ),
                    f"reading the drift detection of {stack}",
                )
                if status.get("DetectionStatus") != "DETECTION_IN_PROGRESS" or waited >= DRIFT_TIMEOUT_SECONDS:
                    break
                env.sleep(DRIFT_POLL_SECONDS)
                waited += DRIFT_POLL_SECONDS
            state = status.get("StackDriftStatus", "UNKNOWN")
            text = state
            if state == "DRIFTED":
                drifts = call(
                    lambda: cfn.describe_stack_resource_drifts(
                        StackName=stack, StackResourceDriftStatusFilters=["MODIFIED", "DELETED"]
                    )["StackResourceDrifts"],
                    f"reading the drifted resources of {stack}",
                )
                text = "DRIFTED: " + ", ".join(
                    f"{d['LogicalResourceId']} {d['StackResourceDriftStatus']}" for d in drifts
                )
            yield env.result(account, region, stack, "IN_SYNC", text, state == "IN_SYNC")


def key_rotation(env: Env) -> Iterator[Result]:
    """Every key of the environment rotates (HMAC keys cannot: KMS rotates symmetric encryption keys only)."""
    for account, region in _where(env):
        kms = env.client("kms", account, region)
        for alias in pages(kms, "list_aliases", "Aliases", "listing key aliases"):
            if not alias["AliasName"].startswith(f"alias/{env.cfg.name}/") or "TargetKeyId" not in alias:
                continue
            key = alias["TargetKeyId"]
            spec = call(lambda: kms.describe_key(KeyId=key)["KeyMetadata"], f"reading {alias['AliasName']}").get(
                "KeySpec", ""
            )
            if spec.startswith("HMAC"):
                yield env.result(account, region, alias["AliasName"], "rotating", "HMAC key: not rotatable", True)
                continue
            on = call(
                lambda: kms.get_key_rotation_status(KeyId=key), f"reading the rotation of {alias['AliasName']}"
            ).get("KeyRotationEnabled")
            yield env.result(
                account, region, alias["AliasName"], "rotating", "rotating" if on else "not rotating", bool(on)
            )


def log_retention(env: Env) -> Iterator[Result]:
    """Every log group of the environment keeps its logs at least as long as config says, and not forever."""
    days = env.cfg.logging.retention_days
    for account, region in _where(env):
        logs = env.client("logs", account, region)
        for group in pages(logs, "describe_log_groups", "logGroups", "listing log groups"):
            if env.cfg.name not in group["logGroupName"]:
                continue
            kept = group.get("retentionInDays")
            ok = kept is not None and kept >= days
            yield env.result(
                account, region, group["logGroupName"], f">= {days} days", f"{kept} days" if kept else "forever", ok
            )


CHECKS: list[tuple[str, Check]] = [
    ("internet-path", internet_path),
    ("block-public-access", block_public_access),
    ("flow-logs", flow_logs),
    ("endpoints", endpoints),
    ("buckets", buckets),
    ("ebs-encryption", ebs_encryption),
    ("hosts", hosts),
    ("backups", backups),
    ("restore-tests", restore_tests),
    ("alarms", alarms),
    ("drift", drift),
    ("key-rotation", key_rotation),
    ("log-retention", log_retention),
]
