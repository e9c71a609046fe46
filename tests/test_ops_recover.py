"""``python -m govcloud.ops recover``: the latest Osaka recovery point of every host and data volume, restored into
the pilot light, tested with botocore's Stubber (moto does not model AWS Backup's recovery points or restores)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from govcloud import naming
from govcloud.config import Config
from govcloud.ops import recover
from govcloud.ops.aws import ToolProblem
from govcloud.ops.update_image import Clock

ACCOUNT, OSAKA = "222200000003", "ap-northeast-3"
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
PREFIX = "kobe-prod-resident-registry"
VAULT = f"{PREFIX}-airgapped"
HOSTS = ["web-1", "web-2", "db-1", "db-2", "batch-1"]
SUBNETS = {("Application", "ap-northeast-3a"): "subnet-0a", ("Application", "ap-northeast-3b"): "subnet-0b",
           ("Data", "ap-northeast-3a"): "subnet-0c", ("Data", "ap-northeast-3b"): "subnet-0d"}  # fmt: skip
GROUPS = {"web": "sg-0web", "db": "sg-0db", "batch": "sg-0batch", "load-balancer": "sg-0lb"}
TARGET_GROUP = f"arn:aws:elasticloadbalancing:{OSAKA}:{ACCOUNT}:targetgroup/KobePr-Web/0123456789abcdef"


class Stubs:
    def __init__(self) -> None:
        keys = {"aws_access_key_id": "x", "aws_secret_access_key": "x", "region_name": OSAKA}
        self.clients = {s: boto3.client(s, **keys) for s in ("backup", "ec2", "cloudformation", "elbv2")}
        self.stubs = {s: Stubber(c) for s, c in self.clients.items()}
        self.asked: list[tuple[str, str, str]] = []

    def client(self, service: str, account: str, region: str, *, check: str = "") -> Any:
        self.asked.append((service, account, region))
        return self.clients[service]

    def __enter__(self) -> Stubs:
        for stub in self.stubs.values():
            stub.activate()
        return self

    def __exit__(self, *exc: object) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()


def _points() -> list[dict[str, Any]]:
    points = []
    for number, host in enumerate(HOSTS):
        for kind, suffix, arn in (
            ("EC2", "", f"instance/i-{number:017x}"),
            ("EBS", "-data", f"volume/vol-{number:017x}"),
        ):
            points.append({"RecoveryPointArn": f"arn:aws:ec2:{OSAKA}::image/ami-{kind.lower()}{number}",
                           "ResourceArn": f"arn:aws:ec2:ap-northeast-1:{ACCOUNT}:{arn}", "ResourceType": kind,
                           "CreationDate": NOW - timedelta(hours=5), "Status": "COMPLETED",
                           "_name": f"{PREFIX}-{host}{suffix}"})  # fmt: skip
    # an older point of db-1 and a failed newer one: neither is the one restored
    older = dict(
        points[4], RecoveryPointArn=f"arn:aws:ec2:{OSAKA}::image/ami-old", CreationDate=NOW - timedelta(days=1)
    )
    failed = dict(points[4], RecoveryPointArn=f"arn:aws:ec2:{OSAKA}::image/ami-bad", Status="PARTIAL", CreationDate=NOW)
    return [older, *points, failed]


def expect_plan(stubs: Stubs) -> list[dict[str, Any]]:
    points = _points()
    listed = [{k: v for k, v in p.items() if k != "_name"} for p in points]
    stubs.stubs["backup"].add_response(
        "list_recovery_points_by_backup_vault", {"RecoveryPoints": listed}, {"BackupVaultName": VAULT}
    )
    stubs.stubs["ec2"].add_response("describe_subnets", {"Subnets": [
        {"SubnetId": sid, "AvailabilityZone": zone, "Tags": [{"Key": "aws-cdk:subnet-name", "Value": tier}]}
        for (tier, zone), sid in SUBNETS.items()]})  # fmt: skip
    stubs.stubs["cloudformation"].add_response("describe_stacks", {"Stacks": [{
        "StackName": "KobeProd-Recovery-ResidentRegistry", "CreationTime": NOW, "StackStatus": "CREATE_COMPLETE",
        "Outputs": [{"OutputKey": naming.recovery_group_output(r), "OutputValue": g} for r, g in GROUPS.items()]
        + [{"OutputKey": naming.recovery_target_group_output("web"), "OutputValue": TARGET_GROUP}]}]},
        {"StackName": "KobeProd-Recovery-ResidentRegistry"})  # fmt: skip
    latest = {}
    for p in points:
        if p["Status"] == "COMPLETED" and (
            p["ResourceArn"] not in latest or p["CreationDate"] > latest[p["ResourceArn"]]["CreationDate"]
        ):
            latest[p["ResourceArn"]] = p
    ordered = sorted(latest.values(), key=lambda p: p["ResourceType"])
    for p in ordered:
        stubs.stubs["backup"].add_response(
            "list_tags", {"Tags": {"Name": p["_name"]}}, {"ResourceArn": p["RecoveryPointArn"]}
        )
    return ordered


def test_dry_run_plans_every_host_and_data_volume_from_its_latest_point(prod_cfg: Config) -> None:
    out = io.StringIO()
    with Stubs() as stubs:
        expect_plan(stubs)
        assert recover.run(prod_cfg, "resident-registry", stubs, dry_run=True, out=out, progress=io.StringIO()) == 0
    text = out.getvalue()
    assert "10 restore job(s) from kobe-prod-resident-registry-airgapped." in text and "Dry run" in text
    db1 = next(line for line in text.splitlines() if line.startswith(f"{PREFIX}-db-1 "))
    assert "EC2" in db1 and "ap-northeast-3a" in db1 and "subnet-0c" in db1 and "sg-0db" in db1
    assert f"{PREFIX}-db-host" in db1
    web2 = next(line for line in text.splitlines() if line.startswith(f"{PREFIX}-web-2 "))
    assert "ap-northeast-3b" in web2 and "subnet-0b" in web2 and "sg-0web" in web2
    volume = next(line for line in text.splitlines() if line.startswith(f"{PREFIX}-db-1-data"))
    assert "EBS" in volume and "ap-northeast-3a" in volume
    assert f"{PREFIX}-web-1, {PREFIX}-web-2 join the Osaka load balancer's target group {TARGET_GROUP}" in text
    assert {(s, r) for s, _, r in stubs.asked} <= {("backup", OSAKA), ("ec2", OSAKA), ("cloudformation", OSAKA)}


def test_recover_starts_each_restore_into_the_pilot_light_and_waits(prod_cfg: Config) -> None:
    out, progress = io.StringIO(), io.StringIO()
    with Stubs() as stubs:
        ordered = expect_plan(stubs)
        by_name = {p["_name"]: p for p in ordered}
        order = [f"{PREFIX}-{h}" for h in ("batch-1", "db-1", "db-2", "web-1", "web-2")]
        order += [f"{PREFIX}-{h}-data" for h in ("batch-1", "db-1", "db-2", "web-1", "web-2")]
        backup = stubs.stubs["backup"]
        for name in order:
            point = by_name[name]
            original = {"SubnetId": "subnet-tokyo", "SecurityGroupIds": '["sg-tokyo"]', "InstanceType": "r6i.xlarge",
                        "NetworkInterfaces": "[]", "availabilityZone": "ap-northeast-1a"}  # fmt: skip
            backup.add_response("get_recovery_point_restore_metadata",
                                {"RestoreMetadata": original}, {"BackupVaultName": VAULT, "RecoveryPointArn": point["RecoveryPointArn"]})  # fmt: skip
            expected_metadata = ANY
            if name == f"{PREFIX}-db-1":
                expected_metadata = {"SubnetId": "subnet-0c", "SecurityGroupIds": json.dumps(["sg-0db"]),
                                     "IamInstanceProfileName": f"{PREFIX}-db-host", "RequireIMDSv2": "true",
                                     "InstanceType": "r6i.xlarge", "availabilityZone": "ap-northeast-1a"}  # fmt: skip
            if name == f"{PREFIX}-db-1-data":
                expected_metadata = {**original, "availabilityZone": "ap-northeast-3a"}
            backup.add_response("start_restore_job", {"RestoreJobId": f"job-{name}"}, {
                "RecoveryPointArn": point["RecoveryPointArn"], "Metadata": expected_metadata,
                "IamRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-backup", "ResourceType": point["ResourceType"]})  # fmt: skip
        web = {f"{PREFIX}-web-1": "i-0web1", f"{PREFIX}-web-2": "i-0web2"}
        for name in order:  # first poll: one still running
            status = "RUNNING" if name == f"{PREFIX}-db-1" else "COMPLETED"
            job = {"RestoreJobId": f"job-{name}", "Status": status}
            if name in web:
                job["CreatedResourceArn"] = f"arn:aws:ec2:{OSAKA}:{ACCOUNT}:instance/{web[name]}"
            backup.add_response("describe_restore_job", job)
        backup.add_response("describe_restore_job", {"RestoreJobId": f"job-{PREFIX}-db-1", "Status": "COMPLETED",
                                                     "CreatedResourceArn": "arn:aws:ec2:ap-northeast-3:x:instance/i-new"})  # fmt: skip
        running = [{"InstanceId": i, "State": {"Name": "running", "Code": 16}} for i in sorted(web.values())]
        stubs.stubs["ec2"].add_response("describe_instances", {"Reservations": [{"Instances": running}]},
                                        {"InstanceIds": sorted(web.values())})  # fmt: skip
        for name in sorted(web):
            stubs.stubs["elbv2"].add_response(
                "register_targets", {}, {"TargetGroupArn": TARGET_GROUP, "Targets": [{"Id": web[name]}]}
            )
        slept: list[float] = []
        clock = Clock(sleep=slept.append, monotonic=lambda: 0.0)
        code = recover.run(prod_cfg, "resident-registry", stubs, dry_run=False, out=out, progress=progress, clock=clock)
    assert code == 0 and slept == [recover.POLL_SECONDS]
    assert "waiting for 1 restore job(s)" in progress.getvalue() and "instance/i-new" in progress.getvalue()
    assert "attach each restored data volume" in out.getvalue()
    assert "2 host(s) joined the Osaka load balancer's target group" in out.getvalue()
    assert f"registered {PREFIX}-web-2 (i-0web2) with {TARGET_GROUP}" in progress.getvalue()


def test_recover_needs_a_pilot_light_and_recovery_points(prod_cfg: Config, stg_cfg: Config) -> None:
    with pytest.raises(ToolProblem, match="keeps copies only in Osaka"):
        recover.run(stg_cfg, "resident-registry", Stubs(), dry_run=True, out=io.StringIO(), progress=io.StringIO())
    with pytest.raises(ToolProblem, match="not a business system"):
        recover.run(prod_cfg, "tax", Stubs(), dry_run=True, out=io.StringIO(), progress=io.StringIO())
    with Stubs() as stubs:
        stubs.stubs["backup"].add_response("list_recovery_points_by_backup_vault", {"RecoveryPoints": []})
        with pytest.raises(ToolProblem, match="holds no completed recovery point"):
            recover.plan(prod_cfg, "resident-registry", stubs)
