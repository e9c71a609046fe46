"""Review tools on small handcrafted assemblies and on the real one: the report and the change guard."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from govcloud.review import changes, report
from govcloud.review.__main__ import main
from govcloud.review.assembly import AssemblyError, load
from tests.support import ROOT


def write_assembly(
    root: Path, stacks: dict[str, dict[str, Any]], stage: str = "Env", report_json: dict | None = None
) -> Path:
    """A minimal cloud assembly: a root manifest, one nested stage assembly and its stack templates."""
    nested = root / f"assembly-{stage}"
    nested.mkdir(parents=True)
    artifacts = {}
    for name, template in stacks.items():
        file = f"{name.replace('-', '')}.template.json"
        (nested / file).write_text(json.dumps(template))
        artifacts[name.replace("-", "")] = {
            "type": "aws:cloudformation:stack",
            "environment": "aws://111111111111/ap-northeast-1",
            "properties": {"templateFile": file, "stackName": name, "terminationProtection": True},
            "displayName": f"{stage}/{name}",
        }
    (nested / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}))
    root_manifest = {
        "version": "55.0.0",
        "artifacts": {
            f"assembly-{stage}": {
                "type": "cdk:cloud-assembly",
                "properties": {"directoryName": f"assembly-{stage}", "displayName": stage},
            }
        },
    }
    (root / "manifest.json").write_text(json.dumps(root_manifest))
    if report_json is not None:
        (root / "validation-report.json").write_text(json.dumps(report_json))
    return root


BASE: dict[str, dict[str, Any]] = {
    "Env-Data": {
        "Description": "data",
        "Resources": {
            "Key": {
                "Type": "AWS::KMS::Key",
                "Properties": {"EnableKeyRotation": True},
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
            },
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": "kobe-data",
                    "Tags": [{"Key": "Owner", "Value": "a"}],
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {
                                "ServerSideEncryptionByDefault": {
                                    "SSEAlgorithm": "aws:kms",
                                    "KMSMasterKeyID": {"Fn::GetAtt": ["Key", "Arn"]},
                                }
                            }
                        ]
                    },
                },
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Metadata": {
                    "cdk_nag": {
                        "rules_to_suppress": [{"id": "AwsSolutions-S1", "reason": "Target of access logs; would loop."}]
                    }
                },
            },
        },
    },
    "Env-Net": {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.1.0.0/16"}},
            "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.1.0.0/24"}},
            "Group": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "VpcId": {"Ref": "Vpc"},
                    "SecurityGroupIngress": [
                        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "10.0.0.0/8"}
                    ],
                },
            },
            "Route": {
                "Type": "AWS::EC2::Route",
                "Properties": {"DestinationCidrBlock": "172.16.0.0/12", "TransitGatewayId": "tgw-0123"},
            },
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "ec2.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ]
                    },
                    "Policies": [
                        {
                            "PolicyName": "p",
                            "PolicyDocument": {
                                "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]
                            },
                        }
                    ],
                },
            },
        }
    },
}


def edited(edit) -> dict[str, dict[str, Any]]:
    stacks = copy.deepcopy(BASE)
    edit(stacks)
    return stacks


def guard(tmp_path: Path, new: dict[str, dict[str, Any]], *allow: str) -> tuple[int, str, changes.ChangeSet]:
    old_dir = write_assembly(tmp_path / "old", BASE)
    new_dir = write_assembly(tmp_path / "new", new)
    change_set = changes.compare(load(old_dir), load(new_dir))
    text, ok = changes.render(change_set, allow)
    return (0 if ok else 1), text, change_set


def kinds(change_set: changes.ChangeSet) -> dict[str, str]:
    return {f"{c.stack}/{c.logical_id}": c.kind for c in change_set.all()}


def test_renamed_bucket_is_a_replacement_and_fails_the_guard(tmp_path) -> None:
    code, text, change_set = guard(
        tmp_path, edited(lambda s: s["Env-Data"]["Resources"]["Bucket"]["Properties"].update(BucketName="kobe-data-2"))
    )
    assert kinds(change_set) == {"Env-Data/Bucket": "replaced"}
    assert "BucketName (create-only)" in text
    assert code == 1 and "GUARD FAILED" in text and "Env-Data/Bucket" in text


def test_allowing_the_logical_id_passes(tmp_path) -> None:
    new = edited(lambda s: s["Env-Data"]["Resources"]["Bucket"]["Properties"].update(BucketName="kobe-data-2"))
    code, text, _ = guard(tmp_path, new, "Env-Data/Bucket")
    assert code == 0 and "Allowed explicitly: Env-Data/Bucket" in text


def test_changed_vpc_cidr_replaces_the_vpc_and_what_is_inside(tmp_path) -> None:
    code, text, change_set = guard(
        tmp_path, edited(lambda s: s["Env-Net"]["Resources"]["Vpc"]["Properties"].update(CidrBlock="10.2.0.0/16"))
    )
    assert kinds(change_set) == {"Env-Net/Vpc": "replaced", "Env-Net/Subnet": "replaced", "Env-Net/Group": "replaced"}
    assert "VpcId refers to replaced Vpc" in text
    assert code == 1


def test_tag_change_passes_the_guard(tmp_path) -> None:
    code, text, change_set = guard(
        tmp_path,
        edited(
            lambda s: s["Env-Data"]["Resources"]["Bucket"]["Properties"].update(Tags=[{"Key": "Owner", "Value": "b"}])
        ),
    )
    assert kinds(change_set) == {"Env-Data/Bucket": "changed"}
    assert "- changed  Bucket (AWS::S3::Bucket) [stateful]: Tags" in text
    assert code == 0 and "Guard passed" in text


def test_renamed_logical_id_is_removed_and_added(tmp_path) -> None:
    code, text, change_set = guard(
        tmp_path, edited(lambda s: s["Env-Data"]["Resources"].update(Bucket2=s["Env-Data"]["Resources"].pop("Bucket")))
    )
    assert kinds(change_set) == {"Env-Data/Bucket": "removed", "Env-Data/Bucket2": "added"}
    assert "renamed to Bucket2" in text
    assert code == 1


def test_removed_stack_fails_and_added_stateless_resource_passes(tmp_path) -> None:
    code, _, change_set = guard(tmp_path, edited(lambda s: s.pop("Env-Data")))
    assert change_set.stacks_removed == ["Env-Data"] and code == 1
    code, _, _ = guard(
        tmp_path / "2",
        edited(lambda s: s["Env-Net"]["Resources"].update(Topic={"Type": "AWS::SNS::Topic", "Properties": {}})),
    )
    assert code == 0


def test_identical_assemblies_have_no_changes(stg) -> None:
    change_set = changes.compare(load(stg.outdir), load(stg.outdir))
    assert list(change_set.all()) == []
    assert changes.render(change_set)[1] is True


def test_create_only_properties_come_from_the_schemas() -> None:
    assert "BucketName" in changes.create_only("AWS::S3::Bucket")
    assert "CidrBlock" in changes.create_only("AWS::EC2::VPC")
    assert "Tags" not in changes.create_only("AWS::S3::Bucket")
    assert changes.create_only("Custom::Anything") == frozenset()


def test_report_sections_on_a_handcrafted_assembly(tmp_path) -> None:
    root = write_assembly(tmp_path, BASE, report_json={"pluginReports": []})
    text = report.render(load(root), "Env")
    assert "2 stacks, 7 resources" in text
    assert "| Group | ingress | tcp | 443 | 10.0.0.0/8 |" in text
    assert "| Route | 172.16.0.0/12 | tgw-0123 |" in text
    assert "| Role | inline p | Allow | s3:Get* | * |" in text
    assert "| Role | inline p | action s3:Get* |" in text and "| Role | inline p | resource * |" in text
    assert "| Bucket | AWS::S3::Bucket | aws:kms `Key` |" in text
    assert "| Bucket | AWS::S3::Bucket | Retain | Retain |" in text
    assert "| Bucket | AwsSolutions-S1 | Target of access logs; would loop. |" in text
    assert "no unacknowledged findings" in text


def test_report_shows_failures_from_the_validation_report(tmp_path) -> None:
    failing = {
        "pluginReports": [
            {"pluginName": "GovCloud", "violations": [{"ruleName": "GC-S3-1", "violatingConstructs": [{}, {}]}]}
        ]
    }
    text = report.render(load(write_assembly(tmp_path, BASE, report_json=failing)), "Env")
    assert "| GovCloud | GC-S3-1 | 2 |" in text


def test_report_of_the_real_assembly_is_filled(stg) -> None:
    text = report.render(load(stg.outdir), "KobeStg")
    for heading in ("## Contents", "## Compliance summary", "## Stacks", "## Stack KobeStg-NetworkHub"):
        assert heading in text
    for heading in ("### Network exposure", "### Hosts", "### IAM", "### Encryption", "### Stateful resources"):
        assert heading in text
    assert "### Acknowledgements" in text
    assert "| LogBucket27CEF49F | AWS::S3::Bucket | aws:kms `ArchiveKey69F03933` (alias/kobe-stg/log-archive) |" in text
    assert "| ResidentDataKeyA7BD66F4 | AWS::KMS::Key | Retain | Retain |" in text
    assert "AwsSolutions-IAM5[Resource::*]" in text
    # every host with its hardening and its data volume, the prefix-list egress with its peer
    assert (
        "| Db1A40E443D | db | r6i.xlarge | ami-0a1b2c3d4e5f60001 | "
        "ami-0a1b2c3d4e5f60001 | IMDSv2 required, hop 1 | no | 50 GiB encrypted | Db1DataVolume167541C1 500 GiB | a | "
        "kobe-stg-resident-registry |" in text
    )
    assert "| egress | tcp | 443 | prefix list pl-61a54008 |" in text
    assert "| AccountGuardsGuardFunctionRole8AAE0CDD | AccountGuardsGuardFunctionPolicy5546CE4E | resource * |" in text


def test_cli_exit_codes(tmp_path, capsys) -> None:
    old = write_assembly(tmp_path / "old", BASE)
    new = write_assembly(
        tmp_path / "new", edited(lambda s: s["Env-Data"]["Resources"]["Bucket"]["Properties"].update(BucketName="x"))
    )
    assert main(["changes", str(old), str(old)]) == 0
    assert main(["changes", str(old), str(new)]) == 1
    assert main(["changes", str(old), str(new), "--allow", "Bucket"]) == 0
    assert main(["changes", str(old), str(tmp_path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert main(["report", str(old), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "review-Env.md").read_text().startswith("# Review report: Env")


def test_review_tools_do_not_import_cdk(tmp_path) -> None:
    code = "import sys, govcloud.review.__main__, govcloud.review.report, govcloud.review.changes; print('aws_cdk' in sys.modules, 'jsii' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"


def test_not_an_assembly(tmp_path) -> None:
    with pytest.raises(AssemblyError, match="manifest.json: not found"):
        load(tmp_path)


def test_network_cost_from_sourced_prices(stg_cfg) -> None:
    from govcloud.review import cost

    prices = cost.Prices()
    small, large = cost.estimate(stg_cfg, prices), cost.estimate(stg_cfg, prices, 20)
    assert small.spokes == 2 and large.spokes == 20
    assert small.hub_endpoints == pytest.approx(16 * 2 * 0.014 * 730)
    assert large.spoke_endpoints == pytest.approx(20 * 16 * 2 * 0.014 * 730)
    assert large.saving == pytest.approx(
        large.spoke_endpoints + large.spoke_resolvers - large.hub_endpoints - large.hub_resolver
    )
    assert large.saving > small.saving > 0
    assert small.ram_dns == pytest.approx(16 * 0.5) and small.profile_dns is None
    # two segments with their own DNS VPC: an inbound and an outbound endpoint each, one ENI per zone
    assert small.hub_resolver == pytest.approx(2 * 2 * 2 * 0.125 * 730)
    assert small.attachments == pytest.approx((2 + 1 + 2) * 0.07 * 730)
    text = cost.render(stg_cfg, prices, [2, 20])
    assert "not computed: no sourced price" in text and "| **saved by the hub** | 144.54 | 9,316.26 |" in text


def test_business_system_cost_from_sourced_prices(stg_cfg) -> None:
    from govcloud.review import cost

    prices = cost.Prices()
    lines = {line.label: line.usd for line in cost.system_lines(stg_cfg, prices, "resident-registry")}
    assert lines["batch: 1 x m6i.large (compute, Linux rate)"] == pytest.approx(0.124 * 730)
    # Windows and RHEL rates include their licence; the shipped file has no sourced one, so they are not priced
    # at the Linux rate but named
    assert lines["db: 2 x r6i.xlarge (compute, RHEL rate)"] is None
    assert lines["web: 2 x m6i.large (compute, Windows rate)"] is None
    assert lines["db: 1100 GB gp3 (root and data volumes)"] == pytest.approx(1100 * 0.096)
    assert lines["25 host alarms"] == pytest.approx(2.5)
    assert lines["1 KMS keys"] == pytest.approx(1.0)  # the Osaka copies' key is AWS's (air-gapped vault)
    assert lines["internal Application Load Balancer (hours)"] == pytest.approx(0.0243 * 730)
    text = cost.render(stg_cfg, prices, [2])
    assert "## Business system `resident-registry` (住民記録), monthly USD" in text
    assert "m6i.large On-Demand, Windows, shared tenancy: no sourced price" in text
    assert "## Environment total, monthly USD" in text
    assert "Without a sourced price, so not in the total: web: 2 x m6i.large (compute, Windows rate)" in text


def test_an_instance_type_without_a_sourced_price_is_named(stg_cfg) -> None:
    from govcloud.review import cost

    role = stg_cfg.systems["resident-registry"].roles["db"].model_copy(update={"instance_type": "x2idn.32xlarge"})
    system = stg_cfg.systems["resident-registry"]
    cfg = stg_cfg.model_copy(
        update={"systems": {"resident-registry": system.model_copy(update={"roles": {**system.roles, "db": role}})}}
    )
    lines = {line.label: line.usd for line in cost.system_lines(cfg, cost.Prices(), "resident-registry")}
    assert lines["db: 2 x x2idn.32xlarge (compute, RHEL rate)"] is None
    text = cost.render(cfg, cost.Prices(), [2])
    assert (
        "No sourced price for: web: 2 x m6i.large (compute, Windows rate), db: 2 x x2idn.32xlarge (compute, RHEL rate)"
        in text
    )
