"""``python -m govcloud.ops preflight`` and ``verify`` against a fake environment: moto for the services it models,
botocore's Stubber for the calls it does not (CloudFormation's bootstrap stacks and drift, AMIs' platform, ACM,
Direct Connect, Lambda's account settings, RAM invitations, VPC Block Public Access, EBS's default key, Systems
Manager's host inventory and compliance, AWS Backup's recovery points and restore jobs, Security Hub, CloudTrail's
organisation trail). A compliant environment passes every check; each fault fails its own check and no other."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from govcloud import naming
from govcloud.config import Config, load, pascal, resolve
from govcloud.ops import checks, preflight, verify
from govcloud.ops.__main__ import main
from govcloud.ops.aws import Access, ToolProblem
from govcloud.ops.permissions import READ_ONLY_ACTIONS, READ_VERBS
from govcloud.os_profiles import PROFILES

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}

# What each fault breaks, and the one check that must fail for it.
FAULTS = {
    "internet gateway": "internet-path",
    "public bucket": "buckets",
    "unencrypted volume": "ebs-encryption",
    "stale backup": "backups",
    "missing Osaka copy": "backups",
    "drifted stack": "drift",
    "missing bootstrap": "bootstrap",
    "expiring certificate": "certificates",
    "missing vendor role": "external-principals",
    "low quota": "lambda-concurrency",
}


SETUP = Access(role_name="setup")  # moto's clients per account, for building the environment and the stubs
STUB_CLIENTS: dict[tuple[str, str, str, str], Any] = {}


@dataclass
class World:
    """The fake environment: moto resources (built once) and, per run, stubbed clients answering as a compliant
    environment does, unless a fault says otherwise."""

    cfg: Config
    faults: set[str] = field(default_factory=set)
    stubbed: dict[tuple[str, str, str, str], Any] = field(default_factory=dict)

    def moto(self, service: str, account: str, region: str) -> Any:
        return SETUP.client(service, account, region)

    def host_arns(self, account_id: str) -> list[str]:
        """The hosts and data volumes of the resident registry, in the order the backups check reads them."""
        ec2 = self.moto("ec2", account_id, "ap-northeast-1")
        prefix = naming.system_prefix(self.cfg, "resident-registry")
        reservations = ec2.describe_instances(
            Filters=[
                {"Name": f"tag:{naming.BACKUP_TAG}", "Values": [prefix]},
                {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
            ]
        )["Reservations"]
        arns = [
            f"arn:aws:ec2:ap-northeast-1:{account_id}:instance/{i['InstanceId']}"
            for r in reservations
            for i in r["Instances"]
        ]
        volumes = ec2.describe_volumes(Filters=[{"Name": f"tag:{naming.BACKUP_TAG}", "Values": [prefix]}])["Volumes"]
        arns += [
            f"arn:aws:ec2:ap-northeast-1:{account_id}:volume/{v['VolumeId']}"
            for v in volumes
            if any(t["Key"] == "Name" and t["Value"].endswith("-data") for t in v.get("Tags", []))
        ]
        return arns

    def account_name(self, account_id: str) -> str:
        return next((n for n, a in self.cfg.accounts.items() if a.id == account_id), account_id)


# ----- what the stubbed clients answer, per (check, service): a function queueing the responses of one account and
# region in the order the check calls -----


def _bootstrap(world: World, stub: Stubber, account: str, region: str) -> None:
    if "missing bootstrap" in world.faults and world.account_name(account) == "linkage" and region == "ap-northeast-3":
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id CDKToolkit does not exist")
        return
    stub.add_response("describe_stacks", {"Stacks": [{
        "StackName": "CDKToolkit", "CreationTime": NOW, "StackStatus": "UPDATE_COMPLETE",
        "Parameters": [{"ParameterKey": "TrustedAccounts", "ParameterValue": world.cfg.operations.deploying_account}],
        "Outputs": [{"OutputKey": "BootstrapVersion", "OutputValue": "28"}],
    }]})  # fmt: skip


def _images(world: World, stub: Stubber, account: str, region: str) -> None:
    for system in world.cfg.systems.values():
        for role in system.roles.values():
            for ids in (role.ami if isinstance(role.ami, dict) else {}, role.launched_from or {}):
                if region in ids:
                    image = {
                        "ImageId": ids[region],
                        "State": "available",
                        "PlatformDetails": PROFILES[role.os].platform_details,
                    }
                    stub.add_response("describe_images", {"Images": [image]})


def _certificate(world: World, stub: Stubber, account: str, region: str) -> None:
    left = timedelta(days=10 if "expiring certificate" in world.faults else 200)
    dr = world.cfg.disaster_recovery
    for name, system in world.cfg.systems.items():
        osaka = dr.systems[name].certificate_arn if name in dr.systems and dr.mode == "pilot-light" else None
        arn = system.certificate_arn if region == world.cfg.regions.primary.name else osaka
        if arn:
            stub.add_response("describe_certificate", {"Certificate": {
                "CertificateArn": arn, "Status": "ISSUED", "NotAfter": NOW + left}})  # fmt: skip


def _direct_connect(world: World, stub: Stubber, account: str, region: str) -> None:
    for segment in world.cfg.network.segments.values():
        stub.add_response("describe_direct_connect_gateways", {"directConnectGateways": [{
            "directConnectGatewayId": segment.direct_connect_gateway_id, "directConnectGatewayState": "available",
            "ownerAccount": world.cfg.account_id(world.cfg.network.account)}]})  # fmt: skip


def _lambda(world: World, stub: Stubber, account: str, region: str) -> None:
    limit = 10 if "low quota" in world.faults else 1000
    stub.add_response("get_account_settings", {"AccountLimit": {"ConcurrentExecutions": limit}})


def _ram(world: World, stub: Stubber, account: str, region: str) -> None:
    stub.add_response("get_resource_share_invitations", {"resourceShareInvitations": []})


def _prefix_list(world: World, stub: Stubber, account: str, region: str) -> None:
    stub.add_response("describe_managed_prefix_lists", {"PrefixLists": [
        {"PrefixListId": "pl-61a54008", "PrefixListName": f"com.amazonaws.{region}.s3"}]})  # fmt: skip
    entries = [{"Cidr": cidr} for cidr in world.cfg.network.s3_cidrs]
    stub.add_response("get_managed_prefix_list_entries", {"Entries": entries})


def _security_hub(world: World, stub: Stubber, account: str, region: str) -> None:
    stub.add_response("describe_hub", {"HubArn": f"arn:aws:securityhub:{region}:{account}:hub/default"})


def _org_trail(world: World, stub: Stubber, account: str, region: str) -> None:
    arn = f"arn:aws:cloudtrail:{region}:999900000000:trail/organisation"
    stub.add_response(
        "describe_trails", {"trailList": [{"Name": "organisation", "TrailARN": arn, "IsOrganizationTrail": True}]}
    )
    stub.add_response("get_trail_status", {"IsLogging": True})


def _block_public_access(world: World, stub: Stubber, account: str, region: str) -> None:
    options = {"VpcBlockPublicAccessOptions": {"InternetGatewayBlockMode": "block-bidirectional"}}
    stub.add_response("describe_vpc_block_public_access_options", options)


def _ebs(world: World, stub: Stubber, account: str, region: str) -> None:
    settings = world.cfg.accounts[world.account_name(account)]
    data_class = settings.data_classes[0] if settings.data_classes else "logs"
    key = world.moto("kms", account, region).describe_key(KeyId=naming.key_alias(world.cfg, data_class))["KeyMetadata"]
    stub.add_response("get_ebs_encryption_by_default", {"EbsEncryptionByDefault": True})
    stub.add_response("get_ebs_default_kms_key_id", {"KmsKeyId": key["Arn"]})
    plain = (
        "unencrypted volume" in world.faults
        and world.account_name(account) == "resident-registry"
        and region == "ap-northeast-1"
    )
    volumes = [{"VolumeId": "vol-0000000000000000a", "Encrypted": True}] + (
        [{"VolumeId": "vol-0000000000000000b", "Encrypted": False}] if plain else []
    )
    stub.add_response("describe_volumes", {"Volumes": volumes})


def _hosts(world: World, stub: Stubber, account: str, region: str) -> None:
    ids = [arn.split("/")[-1] for arn in world.host_arns(account) if ":instance/" in arn]
    stub.add_response(
        "describe_instance_information",
        {"InstanceInformationList": [{"InstanceId": i, "PingStatus": "Online"} for i in ids]},
    )
    stub.add_response("list_resource_compliance_summaries", {"ResourceComplianceSummaryItems": [
        {"ResourceId": i, "ComplianceType": "Patch", "Status": "COMPLIANT"} for i in ids]})  # fmt: skip


def _backups(world: World, stub: Stubber, account: str, region: str) -> None:
    for number, arn in enumerate(world.host_arns(account)):
        if region == "ap-northeast-1":
            age = timedelta(hours=30 if "stale backup" in world.faults and number == 0 else 3)
            stub.add_response("list_recovery_points_by_resource", {"RecoveryPoints": [
                {"RecoveryPointArn": f"{arn}-point", "CreationDate": NOW - age, "Status": "COMPLETED"}]})  # fmt: skip
        else:
            copies = (
                []
                if "missing Osaka copy" in world.faults and number == 1
                else [{"RecoveryPointArn": f"{arn}-copy", "CreationDate": NOW - timedelta(hours=1)}]
            )
            stub.add_response("list_recovery_points_by_backup_vault", {"RecoveryPoints": copies})


def _restore_jobs(world: World, stub: Stubber, account: str, region: str) -> None:
    started = NOW - timedelta(days=3)
    stub.add_response("list_restore_jobs", {"RestoreJobs": [{
        "RestoreJobId": "r-1", "Status": "COMPLETED", "CreationDate": started, "CompletionDate": started + timedelta(hours=2)}]})  # fmt: skip


def _drift(world: World, stub: Stubber, account: str, region: str) -> None:
    name = world.account_name(account)
    stack = f"{pascal(world.cfg.name)}-Baseline-{pascal(name)}" + ("" if region == "ap-northeast-1" else "-Osaka")
    stub.add_response("describe_stacks", {"Stacks": [
        {"StackName": stack, "CreationTime": NOW, "StackStatus": "UPDATE_COMPLETE"},
        {"StackName": "SomeoneElsesStack", "CreationTime": NOW, "StackStatus": "CREATE_COMPLETE"}]})  # fmt: skip
    stub.add_response("detect_stack_drift", {"StackDriftDetectionId": "d-1"})
    stub.add_response("describe_stack_drift_detection_status", {
        "StackId": stack, "StackDriftDetectionId": "d-1", "DetectionStatus": "DETECTION_IN_PROGRESS", "Timestamp": NOW})  # fmt: skip
    drifted = "drifted stack" in world.faults and name == "network" and region == "ap-northeast-1"
    stub.add_response("describe_stack_drift_detection_status", {
        "StackId": stack, "StackDriftDetectionId": "d-1", "DetectionStatus": "DETECTION_COMPLETE",
        "StackDriftStatus": "DRIFTED" if drifted else "IN_SYNC", "Timestamp": NOW})  # fmt: skip
    if drifted:
        stub.add_response("describe_stack_resource_drifts", {"StackResourceDrifts": [{
            "StackId": stack, "LogicalResourceId": "SecurityAlarmsTopicAF65CDDE", "ResourceType": "AWS::SNS::Topic",
            "StackResourceDriftStatus": "MODIFIED", "Timestamp": NOW}]})  # fmt: skip


STUBS: dict[tuple[str, str], Callable[[World, Stubber, str, str], None]] = {
    ("bootstrap", "cloudformation"): _bootstrap,
    ("images", "ec2"): _images,
    ("certificates", "acm"): _certificate,
    ("direct-connect", "directconnect"): _direct_connect,
    ("lambda-concurrency", "lambda"): _lambda,
    ("resource-shares", "ram"): _ram,
    ("s3-prefix-list", "ec2"): _prefix_list,
    ("account-services", "securityhub"): _security_hub,
    ("account-services", "cloudtrail"): _org_trail,
    ("block-public-access", "ec2"): _block_public_access,
    ("ebs-encryption", "ec2"): _ebs,
    ("hosts", "ssm"): _hosts,
    ("backups", "backup"): _backups,
    ("restore-tests", "backup"): _restore_jobs,
    ("drift", "cloudformation"): _drift,
}


class FakeAccess(Access):
    """The tool's Access over moto, handing the stubbed checks their stubbed clients."""

    def __init__(self, world: World) -> None:
        super().__init__(role_name="kobe-stg-operations-read-only")
        self.world = world
        self.asked: set[str] = set()

    def client(self, service: str, account: str, region: str, *, check: str = "") -> Any:
        if (check, service) not in STUBS:
            return _Recorder(SETUP.client(service, account, region), service, self.asked)
        key = (check, service, account, region)
        if key not in self.world.stubbed:
            if key not in STUB_CLIENTS:  # made once; each run stubs it afresh
                STUB_CLIENTS[key] = boto3.client(service, region_name=region)
            client = STUB_CLIENTS[key]
            stub = Stubber(client)
            STUBS[(check, service)](self.world, stub, account, region)
            stub.activate()
            self.world.stubbed[key] = (client, stub)
        client, _ = self.world.stubbed[key]
        return _Recorder(client, service, self.asked)


class _Recorder:
    """Records the IAM action of every call the tools make, to compare with the operations role's policy."""

    def __init__(self, client: Any, service: str, asked: set[str]) -> None:
        self._client, self._service, self._asked = client, service, asked

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name == "get_paginator":
            return lambda operation: (self._asked.add(self._action(operation)), attribute(operation))[1]
        if callable(attribute) and not name.startswith(("get_waiter", "can_paginate")) and name != "meta":
            self._asked.add(self._action(name))
        return attribute

    def _action(self, method: str) -> str:
        operation = self._client.meta.method_to_api_mapping.get(method, method)
        prefix = {"directconnect": "directconnect", "lambda": "lambda"}.get(self._service, self._service)
        actions = {"GetBucketEncryption": "GetEncryptionConfiguration", "ListBuckets": "ListAllMyBuckets",
                   "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
                   "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration"}  # fmt: skip
        return f"{prefix}:{actions.get(operation, operation)}"


def _build(cfg: Config) -> None:
    """A compliant environment in moto: a VPC with a delivering flow log in every account and region, keys with rotation and their aliases, log groups with their retention, the log archive and data lake
    buckets, the resident registry's hosts and data volumes, the vendor's caller role, GuardDuty and Config."""
    world = World(cfg)
    for name, account in cfg.accounts.items():
        for region in (cfg.regions.primary.name, cfg.regions.dr.name):
            ec2 = world.moto("ec2", account.id, region)
            # moto's default VPC stands for the account's VPC (moto gives it no internet gateway)
            vpc_id = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
            s3 = world.moto("s3", account.id, region)
            flow_bucket = f"flow-{account.id}-{region}"
            s3.create_bucket(Bucket=flow_bucket, CreateBucketConfiguration={"LocationConstraint": region})
            ec2.create_flow_logs(ResourceIds=[vpc_id], ResourceType="VPC", TrafficType="ALL",
                                 LogDestinationType="s3", LogDestination=f"arn:aws:s3:::{flow_bucket}")  # fmt: skip
            if name == cfg.network.account:
                ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName=f"com.amazonaws.{region}.s3")
            kms = world.moto("kms", account.id, region)
            for data_class in ("logs", *account.data_classes):
                key = kms.create_key()["KeyMetadata"]["KeyId"]
                kms.enable_key_rotation(KeyId=key)
                kms.create_alias(AliasName=naming.key_alias(cfg, data_class), TargetKeyId=key)
            logs = world.moto("logs", account.id, region)
            logs.create_log_group(logGroupName=f"/{cfg.name}/{name}/guard")
            logs.put_retention_policy(
                logGroupName=f"/{cfg.name}/{name}/guard", retentionInDays=cfg.logging.retention_days
            )
            if region == cfg.regions.primary.name:
                world.moto("guardduty", account.id, region).create_detector(Enable=True)
                config = world.moto("config", account.id, region)
                config.put_configuration_recorder(
                    ConfigurationRecorder={"name": "default", "roleARN": f"arn:aws:iam::{account.id}:role/config"}
                )
                config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": flow_bucket})
                config.start_configuration_recorder(ConfigurationRecorderName="default")
    archive = cfg.account_id(cfg.log_archive.account)
    s3 = world.moto("s3", archive, cfg.regions.primary.name)
    _bucket(s3, naming.log_bucket(cfg), cfg.regions.primary.name, lock=cfg.log_archive.object_lock_mode)
    _bucket(
        s3, naming.access_log_bucket(cfg, archive, cfg.regions.primary.name), cfg.regions.primary.name, sse="AES256"
    )
    lake = world.moto("s3", cfg.account_id(cfg.data_lake.account), cfg.regions.primary.name)
    _bucket(lake, naming.data_lake_bucket(cfg, "curated"), cfg.regions.primary.name)
    system = cfg.account_id("resident-registry")
    ec2 = world.moto("ec2", system, cfg.regions.primary.name)
    vpc_id = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="172.31.200.0/24", AvailabilityZone="ap-northeast-1a")["Subnet"][
        "SubnetId"
    ]
    prefix = naming.system_prefix(cfg, "resident-registry")
    for host in ("db-1", "db-2"):
        tags = [{"Key": naming.BACKUP_TAG, "Value": prefix}, {"Key": "Name", "Value": f"{prefix}-{host}"}]
        ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
                          NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "AssociatePublicIpAddress": False}],
                          MetadataOptions={"HttpTokens": "required"},
                          TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])  # fmt: skip
        ec2.create_volume(AvailabilityZone="ap-northeast-1a", Size=10, Encrypted=True, TagSpecifications=[{
            "ResourceType": "volume", "Tags": [tags[0], {"Key": "Name", "Value": f"{prefix}-{host}-data"}]}])  # fmt: skip
    vendor = cfg.linkage.systems["tax"]
    iam = world.moto("iam", vendor.account, cfg.regions.primary.name)
    for role in vendor.caller_roles:
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))


def _bucket(s3: Any, name: str, region: str, *, lock: str | None = None, sse: str = "aws:kms") -> None:
    s3.create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": region}, ObjectLockEnabledForBucket=bool(lock)
    )
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": sse}}]},
    )
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})  # fmt: skip
    if lock:
        s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": lock, "Days": 1}}})  # fmt: skip


@pytest.fixture(scope="module")
def environment() -> Iterator[Config]:
    saved = {k: os.environ.get(k) for k in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    with mock_aws():
        cfg = load(resolve("kobe-stg", None))
        _build(cfg)
        yield cfg
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@contextlib.contextmanager
def moto_fault(cfg: Config, fault: str) -> Iterator[None]:
    """The faults that live in moto, applied for one run and undone after it."""
    world = World(cfg)
    if fault == "internet gateway":
        ec2 = world.moto("ec2", cfg.account_id("network"), "ap-northeast-3")
        gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        yield
        ec2.delete_internet_gateway(InternetGatewayId=gateway)
    elif fault == "public bucket":
        s3 = world.moto("s3", cfg.account_id(cfg.data_lake.account), "ap-northeast-1")
        name = naming.data_lake_bucket(cfg, "curated")
        s3.delete_public_access_block(Bucket=name)
        yield
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})  # fmt: skip
    elif fault == "missing vendor role":
        iam = world.moto("iam", cfg.linkage.systems["tax"].account, "ap-northeast-1")
        iam.delete_role(RoleName=cfg.linkage.systems["tax"].caller_roles[0])
        yield
        iam.create_role(RoleName=cfg.linkage.systems["tax"].caller_roles[0], AssumeRolePolicyDocument="{}")
    else:
        yield


def run_all(cfg: Config, faults: set[str]) -> tuple[list[checks.Result], FakeAccess]:
    world = World(cfg, faults)
    access = FakeAccess(world)
    env = checks.Env(cfg, access, now=NOW, sleep=lambda seconds: None)
    results = checks.run([*preflight.CHECKS, *verify.CHECKS], env, io.StringIO())
    for _, stub in world.stubbed.values():
        stub.deactivate()
    for _, stub in world.stubbed.values():
        stub.assert_no_pending_responses()  # every stubbed answer was asked for: the checks read what we think
    return results, access


def test_a_compliant_environment_passes_every_check(environment) -> None:
    results, _ = run_all(environment, set())
    failed = [r for r in results if not r.ok]
    assert failed == [], "\n".join(map(str, failed))
    names = {name for name, _ in (*preflight.CHECKS, *verify.CHECKS)}
    assert {r.check for r in results} == names  # every check looked at something
    assert checks.exit_code(results) == 0
    table = checks.render_table(results)
    assert "| bootstrap | ap-northeast-3 | CDKToolkit |" in table and f"{len(results)} checked, 0 failed" in table


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_fault_fails_its_own_check_and_no_other(environment, fault) -> None:
    with moto_fault(environment, fault):
        results, _ = run_all(environment, {fault})
    assert {r.check for r in results if not r.ok} == {FAULTS[fault]}
    assert checks.exit_code(results) == 1
    assert json.loads(checks.render_json(results))["failed"] >= 1


def test_the_tools_call_only_what_the_operations_role_allows_and_it_allows_only_reads(environment) -> None:
    _, access = run_all(environment, set())
    assert access.asked <= set(READ_ONLY_ACTIONS), sorted(access.asked - set(READ_ONLY_ACTIONS))
    for action in READ_ONLY_ACTIONS:
        verb = action.split(":")[1]
        assert verb.startswith(READ_VERBS), f"{action} is not a read"


def test_the_baseline_creates_the_operations_role_trusted_by_the_configured_principals_only(stg, stg_cfg) -> None:
    for account in stg_cfg.accounts:
        stack = f"KobeStg-Baseline-{pascal(account)}"
        (role,) = [r for r in stg.resources(stack, "AWS::IAM::Role").values()
                   if r["Properties"].get("RoleName") == naming.operations_role(stg_cfg)]  # fmt: skip
        (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Condition"] == {"ArnLike": {"aws:PrincipalArn": list(stg_cfg.operations.principals)}}
        policies = [p for p in stg.resources(stack, "AWS::IAM::ManagedPolicy").values()
                    if "OperationsReads" in json.dumps(p)]  # fmt: skip
        (statement,) = policies[0]["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Allow" and sorted(statement["Action"]) == sorted(READ_ONLY_ACTIONS)
        osaka = stg.resources(f"{stack}-Osaka", "AWS::IAM::Role").values()
        assert not [r for r in osaka if r["Properties"].get("RoleName") == naming.operations_role(stg_cfg)]


def test_no_credentials_is_a_tool_problem_with_what_to_do(monkeypatch, capsys) -> None:
    for key in (*CREDENTIALS, "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["verify", "-c", "env=kobe-stg"]) == 2  # the issue's order; -c before the command works too
    err = capsys.readouterr().err
    assert "no AWS credentials" in err and "aws sso login" in err and "Traceback" not in err


def test_access_denied_is_a_tool_problem(environment, capsys) -> None:
    class Denied(FakeAccess):
        def client(self, service: str, account: str, region: str, *, check: str = "") -> Any:
            client = boto3.client(service, region_name=region)
            stub = Stubber(client)
            stub.add_client_error("get_account_settings", "AccessDeniedException", "no")
            stub.activate()
            return client

    env = checks.Env(environment, Denied(World(environment)), now=NOW)
    with pytest.raises(ToolProblem) as raised:
        list(preflight.lambda_concurrency(env))
    assert "access denied (AccessDeniedException)" in str(raised.value) and "README" in str(raised.value)


def _product(sku: str, usage: str, usd: str, unit: str = "Hrs") -> str:
    return json.dumps({
        "product": {"sku": sku, "attributes": {"usagetype": usage}},
        "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {"effectiveDate": "2026-11-01T00:00:00Z", "priceDimensions": {
            f"{sku}.JRTCKXETXF.6YS6EN2CT7": {"beginRange": "0", "unit": unit, "pricePerUnit": {"USD": usd}}}}}},
    })  # fmt: skip


def test_prices_refresh_reads_each_item_from_the_price_list_api_and_keeps_the_rest(tmp_path, monkeypatch) -> None:
    """Windows and RHEL rates arrive with SKU, usage type and effective date; what the API does not answer (or
    answers ambiguously) keeps its entry; make cost then prices a Windows host as Windows."""
    from govcloud.ops import prices
    from govcloud.review import cost

    wanted = list(prices.queries(prices.instance_types()))
    client = boto3.client(
        "pricing", region_name=prices.PRICING_REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(client)
    for query in wanted:
        if query.item == "m6i.large On-Demand, Windows, shared tenancy" and query.region == "ap-northeast-1":
            stub.add_response(
                "get_products", {"PriceList": [_product("WIN1", "APN1-BoxUsage:m6i.large", "0.2160000000")]}
            )
        elif query.item.startswith("r6i.xlarge On-Demand, RHEL") and query.region == "ap-northeast-1":
            stub.add_response(
                "get_products", {"PriceList": [_product("RHEL1", "APN1-BoxUsage:r6i.xlarge", "0.3616000000")]}
            )
        elif query.service == "AWS Transit Gateway" and query.region == "ap-northeast-1":
            two = [
                _product("TGW1", "APN1-TransitGateway-Hours", "0.07"),
                _product("TGW2", "APN1-TransitGateway-Hours", "0.08"),
            ]
            stub.add_response("get_products", {"PriceList": two})  # ambiguous: left as it was
        else:
            stub.add_response("get_products", {"PriceList": []})
    stub.activate()

    class Session:
        def client(self, service: str, region_name: str) -> Any:
            assert (service, region_name) == ("pricing", prices.PRICING_REGION)
            return client

    output = tmp_path / "aws-prices.json"
    out = io.StringIO()
    assert prices.refresh(Access(session=Session()), output, out=out, progress=io.StringIO()) == 0
    stub.assert_no_pending_responses()
    assert "2 prices read from the AWS Price List API" in out.getvalue()
    items = {(i["service"], i["item"], i["region"]): i for i in json.loads(output.read_text())["items"]}
    windows = items[("Amazon EC2", "m6i.large On-Demand, Windows, shared tenancy", "ap-northeast-1")]
    assert (windows["usd"], windows["sku"], windows["usage_type"], windows["effective_date"]) == (
        0.216,
        "WIN1",
        "APN1-BoxUsage:m6i.large",
        "2026-11-01",
    )
    assert windows["source"].startswith("AWS Price List API")
    before = {(i["service"], i["item"], i["region"]): i for i in json.loads(cost.PRICES_FILE.read_text())["items"]}
    tgw = (
        "AWS Transit Gateway",
        "Attachment (VPC/VPN/DX-GW/peering are all billed per attachment-hour)",
        "ap-northeast-1",
    )
    assert items[tgw] == before[tgw]
    assert set(before) <= set(items)

    cfg = load(resolve("kobe-stg", None))
    web = next(
        line
        for line in cost.system_lines(cfg, cost.Prices(output), "resident-registry")
        if line.label.startswith("web:")
    )
    assert web.label == "web: 2 x m6i.large (compute, Windows rate)" and web.usd == pytest.approx(2 * 0.216 * 730)
    shipped = next(
        line for line in cost.system_lines(cfg, cost.Prices(), "resident-registry") if line.label.startswith("web:")
    )
    assert shipped.usd is None  # the shipped file has no sourced Windows rate: not priced as Linux


def test_prices_refresh_that_gets_no_answer_leaves_the_file(tmp_path) -> None:
    from govcloud.ops import prices

    client = boto3.client(
        "pricing", region_name=prices.PRICING_REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(client)
    for _ in prices.queries(prices.instance_types()):
        stub.add_response("get_products", {"PriceList": []})
    stub.activate()
    session = type("S", (), {"client": lambda self, service, region_name: client})()
    output = tmp_path / "aws-prices.json"
    out = io.StringIO()
    assert prices.refresh(Access(session=session), output, out=out, progress=io.StringIO()) == 1
    assert not output.exists() and "unchanged" in out.getvalue()


def test_only_names_a_check_of_the_command(capsys) -> None:
    assert main(["-c", "env=kobe-stg", "verify", "--only", "bootstrap"]) == 2
    err = capsys.readouterr().err
    assert "--only bootstrap: no such check of verify" in err and "internet-path" in err


def test_an_endpoint_that_answers_no_aws_response_is_a_tool_problem() -> None:
    """Found against a moto server: a call it does not implement answers HTML, which botocore cannot parse."""
    from botocore.parsers import ResponseParserError

    def unparsable() -> None:
        raise ResponseParserError("Unable to parse response, invalid XML received")

    with pytest.raises(ToolProblem, match="not an AWS response .* check the endpoint"):
        checks.call(unparsable, "reading VPC Block Public Access")


def test_with_a_pilot_light_the_osaka_prefix_list_is_checked_too(prod_cfg) -> None:
    """Osaka's spokes admit ``disaster_recovery.s3_cidrs`` in their network ACLs: a stale copy fails the row."""
    asked: list[str] = []

    class Access_:
        def client(self, service: str, account: str, region: str, *, check: str = "") -> Any:
            asked.append(region)
            client = boto3.client("ec2", region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
            stub = Stubber(client)
            stub.add_response("describe_managed_prefix_lists", {"PrefixLists": [{"PrefixListId": "pl-0a1b2c3d"}]})
            cidrs = prod_cfg.network.s3_cidrs if region == "ap-northeast-1" else ["198.51.100.0/25"]
            stub.add_response("get_managed_prefix_list_entries", {"Entries": [{"Cidr": c} for c in cidrs]})
            stub.activate()
            return client

    env = checks.Env(prod_cfg, Access_(), now=NOW)
    results = list(preflight.s3_prefix_list(env))
    assert asked == ["ap-northeast-1", "ap-northeast-3"]
    assert [(r.region, r.ok) for r in results] == [("ap-northeast-1", True), ("ap-northeast-3", False)]
