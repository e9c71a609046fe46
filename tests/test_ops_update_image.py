"""``python -m govcloud.ops update-image``: root-volume replacement one host at a time, tested with botocore's Stubber
(moto does not model root-volume replacement tasks)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from govcloud.config import Config
from govcloud.ops import update_image
from govcloud.ops.__main__ import main
from govcloud.ops.aws import ToolProblem

ACCOUNT, REGION = "111100000003", "ap-northeast-1"
WIN_LATEST = "ami-0d1b2c3d4e5f60009"


class Stubs:
    """Stubbed EC2 and SSM clients, handed out as the tool's Access would."""

    def __init__(self) -> None:
        keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
        self.ec2, self.ssm = boto3.client("ec2", **keys), boto3.client("ssm", **keys)
        self.ec2_stub, self.ssm_stub = Stubber(self.ec2), Stubber(self.ssm)
        self.asked: list[tuple[str, str, str]] = []

    def client(self, service: str, account: str, region: str) -> Any:
        self.asked.append((service, account, region))
        return {"ec2": self.ec2, "ssm": self.ssm}[service]

    def __enter__(self) -> Stubs:
        self.ec2_stub.activate()
        self.ssm_stub.activate()
        return self

    def __exit__(self, *exc: object) -> None:
        self.ec2_stub.assert_no_pending_responses()
        self.ssm_stub.assert_no_pending_responses()


def instance(instance_id: str, name: str, role: str, wave: str, image: str) -> dict[str, Any]:
    tags = {"Name": name, "Role": role, "PatchWave": wave, "System": "resident-registry", "Environment": "kobe-stg"}
    return {"InstanceId": instance_id, "ImageId": image, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}


HOSTS = [
    instance("i-0000000000000000b", "kobe-stg-resident-registry-db-2", "db", "b", "ami-0a1b2c3d4e5f60001"),
    instance("i-0000000000000000a", "kobe-stg-resident-registry-db-1", "db", "a", "ami-0a1b2c3d4e5f60001"),
    instance("i-0000000000000000c", "kobe-stg-resident-registry-web-1", "web", "a", "ami-0a1b2c3d4e5f60005"),
]


def expect_plan(stubs: Stubs, roles: list[str], cfg: Config, *, replaced: dict[str, str] | None = None) -> None:
    if "web" in roles:
        stubs.ssm_stub.add_response(
            "get_parameter",
            {"Parameter": {"Name": "x", "Value": WIN_LATEST}},
            {"Name": "/aws/service/ami-windows-latest/Windows_Server-2022-Japanese-Full-Base"},
        )
    chosen = [h for h in HOSTS if any(t["Value"] in roles for t in h["Tags"] if t["Key"] == "Role")]
    stubs.ec2_stub.add_response(
        "describe_instances",
        {"Reservations": [{"Instances": chosen}]},
        {
            "Filters": [
                {"Name": "tag:Environment", "Values": ["kobe-stg"]},
                {"Name": "tag:System", "Values": ["resident-registry"]},
                {"Name": "tag:Role", "Values": roles},
                {"Name": "instance-state-name", "Values": ["running"]},
            ]
        },
    )
    tasks = [
        {"ReplaceRootVolumeTaskId": f"replacevol-{i}", "InstanceId": iid, "TaskState": "succeeded", "ImageId": image,
         "StartTime": "2026-11-01T00:00:00Z"}
        for i, (iid, image) in enumerate((replaced or {}).items())
    ]  # fmt: skip
    stubs.ec2_stub.add_response(
        "describe_replace_root_volume_tasks",
        {"ReplaceRootVolumeTasks": tasks},
        {"Filters": [{"Name": "instance-id", "Values": [h["InstanceId"] for h in chosen]}]},
    )


def expect_replacement(stubs: Stubs, instance_id: str, image: str, *, outcome: str = "succeeded") -> None:
    task = f"replacevol-{instance_id[-1]}"
    stubs.ec2_stub.add_response(
        "create_replace_root_volume_task",
        {"ReplaceRootVolumeTask": {"ReplaceRootVolumeTaskId": task, "TaskState": "pending"}},
        {"InstanceId": instance_id, "ImageId": image, "DeleteReplacedRootVolume": False, "ClientToken": ANY},
    )
    for state in ("in-progress", outcome):
        stubs.ec2_stub.add_response(
            "describe_replace_root_volume_tasks",
            {"ReplaceRootVolumeTasks": [{"ReplaceRootVolumeTaskId": task, "TaskState": state}]},
            {"ReplaceRootVolumeTaskIds": [task]},
        )
    if outcome != "succeeded":
        return
    later = datetime.now(UTC) + timedelta(minutes=5)
    stubs.ssm_stub.add_response(
        "describe_instance_information",
        {"InstanceInformationList": [{"InstanceId": instance_id, "PingStatus": "Online", "LastPingDateTime": later}]},
        {"Filters": [{"Key": "InstanceIds", "Values": [instance_id]}]},
    )
    stubs.ssm_stub.add_response(
        "describe_instance_associations_status",
        {"InstanceAssociationStatusInfos": [{"AssociationId": "a-data"}, {"AssociationId": "a-agent"}]},
        {"InstanceId": instance_id},
    )
    stubs.ssm_stub.add_response("start_associations_once", {}, {"AssociationIds": ["a-agent", "a-data"]})


class NoWait(update_image.Clock):
    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(sleep=self._sleep, monotonic=lambda: self.now)

    def _sleep(self, seconds: float) -> None:
        self.now += seconds


def run(cfg: Config, stubs: Stubs, roles: list[str], *, dry_run: bool) -> tuple[int, str, str]:
    out, progress = io.StringIO(), io.StringIO()
    code = update_image.run(
        cfg, "resident-registry", roles, stubs, dry_run=dry_run, out=out, progress=progress, clock=NoWait()
    )  # type: ignore[arg-type]
    return code, out.getvalue(), progress.getvalue()


def test_dry_run_plans_wave_a_before_b_and_resolves_latest(stg_cfg) -> None:
    new_db = "ami-0a1b2c3d4e5f60001"  # what config says
    with Stubs() as stubs:
        expect_plan(stubs, ["web", "db"], stg_cfg, replaced={"i-0000000000000000a": new_db})
        code, out, _ = run(stg_cfg, stubs, ["web", "db"], dry_run=True)
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines[1:4]] == [
        "kobe-stg-resident-registry-db-1",  # wave a, already runs its image
        "kobe-stg-resident-registry-web-1",  # wave a: "latest" resolved to the newest release
        "kobe-stg-resident-registry-db-2",  # wave b
    ]
    assert lines[1].endswith("none") and lines[2].endswith("replace root volume") and lines[3].endswith("none")
    assert WIN_LATEST in lines[2]
    assert lines[-1] == "1 of 3 host(s) to update, one at a time, wave a then b."
    assert stubs.asked == [("ec2", ACCOUNT, REGION), ("ssm", ACCOUNT, REGION)]  # the system's account, Tokyo


def test_hosts_are_replaced_one_at_a_time_and_the_run_stops_at_the_first_failure(stg_cfg) -> None:
    data = stg_cfg.model_dump()
    data["systems"]["resident-registry"]["roles"]["db"]["ami"] = {"ap-northeast-1": "ami-0c1b2c3d4e5f60001"}
    cfg = Config.model_validate(data)
    with Stubs() as stubs:
        expect_plan(stubs, ["db"], cfg)
        expect_replacement(stubs, "i-0000000000000000a", "ami-0c1b2c3d4e5f60001")
        expect_replacement(stubs, "i-0000000000000000b", "ami-0c1b2c3d4e5f60001", outcome="failed")
        code, out, progress = run(cfg, stubs, ["db"], dry_run=False)
    assert code == 1
    assert "[1/2] kobe-stg-resident-registry-db-1: replacevol-a succeeded in 0 min; 2 association(s) run again" in out
    assert "[2/2] kobe-stg-resident-registry-db-2: replacevol-b failed: EC2 keeps the old root volume attached" in out
    assert "stopped: 0 host(s) not started; fix kobe-stg-resident-registry-db-2 and run again" in out
    assert "kobe-stg-resident-registry-db-1: replacevol-a in-progress" in progress


def test_unknown_role_and_denied_access_are_tool_problems(stg_cfg) -> None:
    with Stubs() as stubs, pytest.raises(ToolProblem, match="has no role cache; roles: web, db, batch"):
        update_image.plan(stg_cfg, "resident-registry", ["cache"], stubs.ec2, stubs.ssm)
    with Stubs() as stubs:
        stubs.ec2_stub.add_client_error("describe_instances", "UnauthorizedOperation", "no")
        with pytest.raises(ToolProblem, match=r"listing the hosts: access denied \(UnauthorizedOperation\)"):
            update_image.plan(stg_cfg, "resident-registry", ["db"], stubs.ec2, stubs.ssm)


def test_command_line_without_credentials_says_what_to_do(capsys, monkeypatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["-c", "env=kobe-stg", "update-image", "--system", "resident-registry", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: reading the caller identity: no AWS credentials. Sign in first")
    assert "Traceback" not in err
    assert main(["-c", "env=nope", "update-image", "--system", "x"]) == 2
    assert "no file config/nope.toml" in capsys.readouterr().err
