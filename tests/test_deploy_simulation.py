"""The deploy simulation: every name a resource uses exists by the time its stack deploys.

Handcrafted assemblies show each kind of problem is found (and its compliant form is not); the shipped
environments, a brand-new one and one with 20 business systems show none.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from govcloud import prerequisites
from govcloud.config import parse
from govcloud.prerequisites import Prerequisites
from govcloud.review import deploy_check
from govcloud.review.assembly import load
from tests.support import synth

A, B, VENDOR = "111111111111", "222222222222", "999999999999"
REGION = "ap-northeast-1"
NONE = Prerequisites(accounts=(), role_arns=(), service_arns=(), bucket_names=(), ids=(), what=())


def role(name: str) -> dict[str, Any]:
    return {"Type": "AWS::IAM::Role", "Properties": {"RoleName": name, "AssumeRolePolicyDocument": {}}}


def key_policy(*principals: str, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": "kms:*"}
    if condition:
        statement["Condition"] = condition
    return {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": [statement]}}}


def assembly(tmp_path: Path, stacks: dict[str, dict[str, Any]]) -> Path:
    """A cloud assembly of stacks ``name: {"account", "deps", "resources", "outputs"}`` (one stage, like ours)."""
    stage = tmp_path / "assembly-T"
    stage.mkdir(parents=True)
    artifacts: dict[str, Any] = {}
    for name, spec in stacks.items():
        template = {"Resources": spec.get("resources", {}), "Outputs": spec.get("outputs", {})}
        (stage / f"{name}.template.json").write_text(json.dumps(template))
        account = spec.get("account", A)
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": f"aws://{account}/{REGION}",
            "displayName": f"T/{name}",
            "dependencies": spec.get("deps", []),
            "properties": {
                "templateFile": f"{name}.template.json",
                "stackName": f"T-{name}",
                "cloudFormationExecutionRoleArn": f"arn:${{AWS::Partition}}:iam::{account}:role/cdk-hnb659fds-cfn-exec-role-{account}-{REGION}",
            },
        }
    (stage / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    root = tmp_path / "cdk.out"
    root.mkdir()
    (root / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    "T": {
                        "type": "cdk:cloud-assembly",
                        "properties": {"directoryName": "../assembly-T", "displayName": "T"},
                    }
                }
            }
        )
    )
    return root


def problems(tmp_path: Path, stacks: dict[str, dict[str, Any]], pre: Prerequisites = NONE) -> list[str]:
    return [p.render() for p in deploy_check.run(load(assembly(tmp_path, stacks)), pre).problems]


def output_read(stack: str, output: str, role_arn: str | None = None) -> dict[str, Any]:
    read: dict[str, Any] = {"StackName": f"T-{stack}", "OutputName": output, "Region": REGION}
    if role_arn:
        read["RoleArn"] = role_arn
    return {"Fn::GetStackOutput": read}


# ----- each kind of problem, and its compliant form -----


def test_a_principal_created_by_a_later_stack_is_found(tmp_path) -> None:
    """The linkage key's defect on 0101881: a key policy names a role a stack it does not wait for creates."""
    arn = f"arn:aws:iam::{A}:role/caller"
    found = problems(
        tmp_path, {"Keys": {"resources": {"Key": key_policy(arn)}}, "System": {"resources": {"Caller": role("caller")}}}
    )
    assert found == [
        f"T-Keys/Key: names the role {arn} as a principal before it exists: T-System creates it and T-Keys does not "
        "depend on it"
    ]


def test_the_account_principal_with_a_principal_arn_condition_is_accepted_before_the_role_exists(tmp_path) -> None:
    arn = f"arn:aws:iam::{A}:role/caller"
    condition = {"ArnEquals": {"aws:PrincipalArn": [arn]}}
    stacks = {
        "Keys": {"resources": {"Key": key_policy(f"arn:aws:iam::{A}:root", condition=condition)}},
        "System": {"resources": {"Caller": role("caller")}},
    }
    assert problems(tmp_path, stacks) == []


def test_a_principal_created_by_a_dependency_is_fine(tmp_path) -> None:
    arn = f"arn:aws:iam::{A}:role/caller"
    stacks = {
        "Keys": {"deps": ["System"], "resources": {"Key": key_policy(arn)}},
        "System": {"resources": {"Caller": role("caller")}},
    }
    assert problems(tmp_path, stacks) == []


def test_a_name_nobody_creates_is_dangling_unless_declared(tmp_path) -> None:
    arn = f"arn:aws:iam::{A}:role/typo"
    condition = {"ArnEquals": {"aws:PrincipalArn": [arn]}}
    stacks = {"Keys": {"resources": {"Key": key_policy(f"arn:aws:iam::{A}:root", condition=condition)}}}
    assert problems(tmp_path, stacks) == [
        f"T-Keys/Key: names the role {arn} (KeyPolicy.Statement.[].Condition.ArnEquals.aws:PrincipalArn.[]), which "
        "no stack creates and which is not a declared prerequisite"
    ]
    declared = NONE.__class__(**{**NONE.__dict__, "role_arns": (arn,)})
    assert problems(tmp_path / "declared", stacks, declared) == []


def test_a_foreign_account_must_be_declared(tmp_path) -> None:
    vendor_role = f"arn:aws:iam::{VENDOR}:role/vendor-caller"
    stacks = {"Keys": {"resources": {"Key": key_policy(vendor_role, f"arn:aws:iam::{VENDOR}:root")}}}
    found = problems(tmp_path, stacks)
    assert len(found) == 2
    assert f"account {VENDOR} is not in the environment: declare it as an external prerequisite" in found[0]
    assert f"admits account {VENDOR}, which is neither an account of the environment nor a declared" in found[1]
    declared = NONE.__class__(**{**NONE.__dict__, "accounts": (VENDOR,), "role_arns": (vendor_role,)})
    assert problems(tmp_path / "declared", stacks, declared) == []


def test_a_bucket_a_trail_writes_to_must_be_created_first(tmp_path) -> None:
    trail = {"Type": "AWS::CloudTrail::Trail", "Properties": {"S3BucketName": "t-logs", "IsLogging": True}}
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "t-logs"}}
    assert problems(tmp_path, {"Trail": {"resources": {"Trail": trail}}, "Logs": {"resources": {"B": bucket}}}) == [
        "T-Trail/Trail: names the bucket arn:aws:s3:::t-logs as S3BucketName before it exists: T-Logs creates it and "
        "T-Trail does not depend on it"
    ]
    ok = {"Trail": {"deps": ["Logs"], "resources": {"Trail": trail}}, "Logs": {"resources": {"B": bucket}}}
    assert problems(tmp_path / "ok", ok) == []


def test_stack_outputs_need_a_dependency_the_output_and_across_accounts_a_reader_role(tmp_path) -> None:
    attachment = {"Type": "AWS::EC2::TransitGatewayAttachment", "Properties": {"TransitGatewayId": None}}
    hub = {
        "account": B,
        "resources": {"Tgw": {"Type": "AWS::EC2::TransitGateway"}},
        "outputs": {"TgwId": {"Value": {"Ref": "Tgw"}}},
    }

    def spoke(read: dict[str, Any], deps: list[str]) -> dict[str, Any]:
        props = {**attachment["Properties"], "TransitGatewayId": read}
        return {"deps": deps, "resources": {"Att": {**attachment, "Properties": props}}}

    found = problems(tmp_path / "1", {"Hub": hub, "Spoke": spoke(output_read("Hub", "TgwId"), [])})
    assert "T-Spoke/(outputs): reads output TgwId of T-Hub without depending on T-Hub" in found
    assert any("without a reader role that T-Hub creates (RoleArn missing)" in p for p in found)
    found = problems(tmp_path / "2", {"Hub": hub, "Spoke": spoke(output_read("Hub", "Nope"), ["Hub"])})
    assert "T-Spoke/(outputs): reads output Nope of T-Hub, which has no such output" in found
    reader = f"arn:aws:iam::{B}:role/reader"
    trusting = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": "reader",
            "AssumeRolePolicyDocument": {
                "Statement": [{"Principal": {"AWS": f"arn:aws:iam::{A}:role/cdk-hnb659fds-cfn-exec-role-{A}-{REGION}"}}]
            },
        },
    }
    hub_ok = {**hub, "resources": {**hub["resources"], "Reader": trusting}}
    bootstrap = NONE.__class__(**{**NONE.__dict__, "role_arns": (prerequisites.BOOTSTRAP_ROLES,)})
    assert (
        problems(
            tmp_path / "3", {"Hub": hub_ok, "Spoke": spoke(output_read("Hub", "TgwId", reader), ["Hub"])}, bootstrap
        )
        == []
    )


def test_ids_pasted_from_a_deployment_are_found(tmp_path) -> None:
    association = {
        "Type": "AWS::EC2::TransitGatewayRouteTableAssociation",
        "Properties": {
            "TransitGatewayAttachmentId": "tgw-attach-0123456789abcdef0",
            "TransitGatewayRouteTableId": {"Ref": "T"},
        },
    }
    zones = {"Type": "Custom::HostedZoneSharing", "Properties": {"HostedZoneIds": ["Z0100EXAMPLEZONE"]}}
    found = problems(tmp_path, {"Hub": {"resources": {"Assoc": association, "Zones": zones}}})
    assert [re.sub(r" \(.*?\)", "", p).split(",")[0] for p in found] == [
        "T-Hub/Assoc: holds the ID tgw-attach-0123456789abcdef0",
        "T-Hub/Zones: holds the ID Z0100EXAMPLEZONE",
    ]


def test_hosts_wait_for_the_stacks_that_complete_their_network(tmp_path) -> None:
    """System and linkage stacks on 0101881 did not wait for the attachments and zone associations."""
    spoke = {
        "resources": {
            "Vpc": {"Type": "AWS::EC2::VPC"},
            "Subnet": {"Type": "AWS::EC2::Subnet"},
            "Att": {"Type": "AWS::EC2::TransitGatewayVpcAttachment"},
        },
        "outputs": {
            "VpcId": {"Value": {"Ref": "Vpc"}},
            "SubnetId": {"Value": {"Ref": "Subnet"}},
            "AttId": {"Value": {"Ref": "Att"}},
        },
    }
    zones = {
        "deps": ["Spoke"],
        "resources": {
            "Z": {"Type": "Custom::HostedZoneSharing", "Properties": {"VpcId": output_read("Spoke", "VpcId")}}
        },
    }
    host = {"Type": "AWS::EC2::Instance", "Properties": {"SubnetId": output_read("Spoke", "SubnetId")}}
    found = problems(
        tmp_path / "1", {"Spoke": spoke, "Zones": zones, "System": {"deps": ["Spoke"], "resources": {"Host": host}}}
    )
    assert found == [
        "T-System/(dependencies): places hosts or functions in the subnets of T-Spoke, whose network T-Zones "
        "completes (it associates VpcId), without depending on T-Zones"
    ]
    ok = {"Spoke": spoke, "Zones": zones, "System": {"deps": ["Spoke", "Zones"], "resources": {"Host": host}}}
    assert problems(tmp_path / "2", ok) == []


def test_glue_databases_wait_for_the_lake_formation_settings(tmp_path) -> None:
    settings = {"Type": "AWS::LakeFormation::DataLakeSettings", "Properties": {}}
    database = {"Type": "AWS::Glue::Database", "Properties": {}}
    assert problems(tmp_path / "1", {"Catalog": {"resources": {"Settings": settings, "Db": database}}}) == [
        "T-Catalog/Db: does not depend on Settings: created before the Lake Formation settings, a database keeps "
        "the IAMAllowedPrincipals default grant"
    ]
    ordered = {"Catalog": {"resources": {"Settings": settings, "Db": {**database, "DependsOn": ["Settings"]}}}}
    assert problems(tmp_path / "2", ordered) == []


def test_a_literal_name_inside_one_stack_needs_a_dependency(tmp_path) -> None:
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "t-logs"}}
    trail = {"Type": "AWS::CloudTrail::Trail", "Properties": {"S3BucketName": "t-logs"}}
    found = problems(tmp_path / "1", {"Audit": {"resources": {"Logs": bucket, "Trail": trail}}})
    assert found == [
        "T-Audit/Trail: names the bucket arn:aws:s3:::t-logs of Logs in S3BucketName without depending on it (use "
        "a Ref, or DependsOn): CloudFormation may create it first"
    ]
    ordered = {"Audit": {"resources": {"Logs": bucket, "Trail": {**trail, "DependsOn": "Logs"}}}}
    assert problems(tmp_path / "2", ordered) == []


def test_a_lambda_environment_over_4_kb_is_refused_before_cloudformation_does(tmp_path) -> None:
    def function(size: int) -> dict[str, Any]:
        return {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {"DATASETS": "x" * size}}}}

    found = problems(tmp_path / "1", {"Link": {"resources": {"Handler": function(4096)}}})
    assert found == [
        "T-Link/Handler: its environment variables take 4104 bytes; Lambda refuses more than 4096 (put "
        "configuration into the function's code or a parameter)"
    ]
    assert problems(tmp_path / "2", {"Link": {"resources": {"Handler": function(4000)}}}) == []


# ----- the real environments -----


def _check(synthesized, cfg) -> deploy_check.Simulation:
    return deploy_check.run(load(synthesized.outdir), prerequisites.of(cfg))


@pytest.mark.parametrize("which", ["stg", "prod"])
def test_the_shipped_environments_deploy_in_order(request, which) -> None:
    synthesized = request.getfixturevalue(which)
    sim = _check(synthesized, synthesized.stage.cfg)
    assert [p.render() for p in sim.problems] == []
    assert sim.checked > 400
    # IDs flow between accounts at deploy time: each spoke reads the hub's Transit Gateway, the hub each spoke's
    # attachment, through a reader role the producer creates.
    reads = [json.dumps(t) for t in synthesized.templates.values()]
    assert sum(r.count('"RoleArn"') for r in reads) > 20


def _new_environment(systems: int) -> dict[str, Any]:
    """A brand-new environment copied from kobe-stg: new name, accounts and CIDRs, and no ID of anything deployed."""
    from bench.scale import scaled_config

    data = scaled_config(systems)
    text = json.dumps(data)
    text = text.replace("kobe-stg", "kobe-dev").replace('"1111000', '"3333000').replace(":1111000", ":3333000")
    text = re.sub(r"10\.10([0-2])\.", r"10.20\1.", text)
    data = json.loads(text)
    assert not re.search(r"\b(vpc|tgw|tgw-attach|rslvr-rr|rslvr-frg)-[0-9a-f]+|Z0\d{3}EXAMPLE", json.dumps(data))
    return data


def test_a_brand_new_environment_synthesizes_with_every_pack_and_no_placeholder(tmp_path) -> None:
    """No placeholder needed: every ID a stack uses comes from the stack that creates it."""
    from govcloud.compliance import packs

    cfg = parse(_new_environment(1), "kobe-dev")
    synthesized = synth(cfg, tmp_path)
    assert packs.report_failures(tmp_path) == []
    assert [p.render() for p in _check(synthesized, cfg).problems] == []


def test_many_systems_deploy_in_order(tmp_path) -> None:
    """Three systems in a new environment: the order and names hold when systems, accounts and spokes multiply (each
    further system is a copy of the first; the packs ran on the shipped and the new environment above). make bench
    runs the same check on the city's 20 standard systems."""
    cfg = parse(_new_environment(3), "kobe-dev (3 systems)")
    synthesized = synth(cfg, tmp_path, packs=False)
    assert len([n for n in synthesized.templates if "-System-" in n]) == 3
    sim = _check(synthesized, cfg)
    assert [p.render() for p in sim.problems] == []
    assert sim.checked > 1000


def test_the_default_config_holds_no_id_of_a_deployed_resource() -> None:
    text = (Path(__file__).resolve().parent.parent / "config" / "kobe-stg.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert "ids" not in data["network"]
    assert not any({"vpc_id", "transit_gateway_attachment_id"} & set(s) for s in data["network"]["spokes"].values())
    assert [s.get("api_endpoint_id") for s in data["linkage"]["systems"].values() if "spoke" in s] == [None]
