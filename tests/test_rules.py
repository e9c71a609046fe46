"""Each Government Cloud rule: a small construct that breaks it is caught, the compliant form passes, and an
acknowledgement silences exactly that finding. One app holds a stack per rule and is synthesized once."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_backup as backup
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from govcloud.compliance import packs as compliance
from govcloud.compliance.rules import RULES, Settings, Stack, evaluate
from tests.support import cli_context

SETTINGS = Settings(
    production=True,
    environment="test",
    municipality="Kobe-281000",
    min_log_retention_days=30,
    allowed_ingress_cidrs=("10.0.0.0/8",),
    closed_segments=("mynumber",),
)
TOKYO = cdk.Environment(account="111111111111", region="ap-northeast-1")
AMI = "ami-0123456789abcdef0"


def key(scope: Construct) -> kms.Key:
    existing = scope.node.try_find_child("Key")
    return (
        existing
        if isinstance(existing, kms.Key)
        else kms.Key(scope, "Key", removal_policy=cdk.RemovalPolicy.RETAIN, enable_key_rotation=True)
    )


def bucket(scope: Construct, cid: str, **overrides) -> s3.Bucket:
    stack = cdk.Stack.of(scope)
    options = {
        "encryption": s3.BucketEncryption.KMS,
        "encryption_key": key(stack),
        "versioned": True,
        "enforce_ssl": True,
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "removal_policy": cdk.RemovalPolicy.RETAIN,
    }
    options.update(overrides)
    if options["encryption"] != s3.BucketEncryption.KMS:
        options.pop("encryption_key")
    return s3.Bucket(scope, cid, **options)


def vpc(scope: Construct) -> ec2.CfnVPC:
    existing = scope.node.try_find_child("Vpc")
    return existing if isinstance(existing, ec2.CfnVPC) else ec2.CfnVPC(scope, "Vpc", cidr_block="10.10.0.0/16")


def group(scope: Construct, cid: str, cidr: str) -> ec2.CfnSecurityGroup:
    return ec2.CfnSecurityGroup(
        scope,
        cid,
        group_description="test",
        vpc_id=vpc(cdk.Stack.of(scope)).ref,
        security_group_ingress=[
            ec2.CfnSecurityGroup.IngressProperty(ip_protocol="tcp", from_port=443, to_port=443, cidr_ip=cidr)
        ],
    )


def host(
    scope: Construct,
    cid: str,
    *,
    tokens: str = "required",
    key_name: str | None = None,
    encrypted: bool = True,
    protect: bool = True,
) -> None:
    construct = Construct(scope, cid)
    template = ec2.CfnLaunchTemplate(
        construct,
        "LaunchTemplate",
        launch_template_data=ec2.CfnLaunchTemplate.LaunchTemplateDataProperty(
            metadata_options=ec2.CfnLaunchTemplate.MetadataOptionsProperty(
                http_tokens=tokens, http_put_response_hop_limit=1
            ),
        ),
    )
    ec2.CfnInstance(
        construct,
        "Resource",
        image_id=AMI,
        instance_type="t3.micro",
        key_name=key_name,
        disable_api_termination=protect,
        launch_template=ec2.CfnInstance.LaunchTemplateSpecificationProperty(
            launch_template_id=template.ref, version=template.attr_latest_version_number
        ),
        block_device_mappings=[
            ec2.CfnInstance.BlockDeviceMappingProperty(
                device_name="/dev/xvda", ebs=ec2.CfnInstance.EbsProperty(encrypted=encrypted, volume_size=30)
            )
        ],
    )
    backed_up_by_tag(cdk.Stack.of(scope))


def backed_up_by_tag(stack: cdk.Stack) -> None:
    if stack.node.try_find_child("Selection") is None:
        cdk.Tags.of(stack).add("Backup", "daily")
        backup.CfnBackupSelection(
            stack,
            "Selection",
            backup_plan_id="plan-0123",
            backup_selection=backup.CfnBackupSelection.BackupSelectionResourceTypeProperty(
                iam_role_arn="arn:aws:iam::111111111111:role/backup",
                selection_name="by-tag",
                list_of_tags=[
                    backup.CfnBackupSelection.ConditionResourceTypeProperty(
                        condition_key="Backup", condition_value="daily", condition_type="STRINGEQUALS"
                    )
                ],
            ),
        )


def volume(scope: Construct, cid: str) -> ec2.CfnVolume:
    v = ec2.CfnVolume(scope, cid, availability_zone="ap-northeast-1a", size=10, encrypted=True)
    v.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
    return v


def selection_of(scope: Construct, cid: str, resource: ec2.CfnVolume) -> None:
    backup.CfnBackupSelection(
        scope,
        cid,
        backup_plan_id="plan-0123",
        backup_selection=backup.CfnBackupSelection.BackupSelectionResourceTypeProperty(
            iam_role_arn="arn:aws:iam::111111111111:role/backup",
            selection_name=cid,
            resources=[f"arn:aws:ec2:ap-northeast-1:111111111111:volume/{resource.ref}"],
        ),
    )


def transit(scope: Construct, cid: str, *, broken: bool) -> None:
    """A Transit Gateway with a hub, a My Number spoke, an LGWAN spoke and an LGWAN VPN, each segment in its own
    table. Broken: the VPN propagates into the hub's table (which every segment's replies use), and the LGWAN spoke
    into the My Number table."""
    from govcloud.compliance.transit import ATTACHMENT_METADATA

    construct = Construct(scope, cid)
    tgw = ec2.CfnTransitGateway(construct, "Tgw", auto_accept_shared_attachments="disable")
    tables = {
        segment: ec2.CfnTransitGatewayRouteTable(
            construct, f"{segment}Table", transit_gateway_id=tgw.ref, tags=[cdk.CfnTag(key="Segment", value=segment)]
        )
        for segment in ("hub", "mynumber", "lgwan")
    }
    attachments: dict[str, str] = {}
    for name, segment in (("hub", "hub"), ("registry", "mynumber"), ("portal", "lgwan")):
        attachments[name] = ec2.CfnTransitGatewayVpcAttachment(
            construct,
            f"{name}Attachment",
            transit_gateway_id=tgw.ref,
            vpc_id=vpc(cdk.Stack.of(scope)).ref,
            subnet_ids=["subnet-0123456789abcdef0"],
            tags=[cdk.CfnTag(key="Segment", value=segment)],
        ).ref
    lookup = cdk.CfnResource(construct, "VpnLookup", type="Custom::AttachmentLookup", properties={"Vpn": "vpn-1"})
    lookup.add_metadata(ATTACHMENT_METADATA, {"Segment": "lgwan", "Type": "vpn"})
    attachments["vpn"] = lookup.get_att("AttachmentId").to_string()
    for name, table in (("hub", "hub"), ("registry", "mynumber"), ("portal", "lgwan"), ("vpn", "lgwan")):
        ec2.CfnTransitGatewayRouteTableAssociation(
            construct,
            f"{name}Association",
            transit_gateway_attachment_id=attachments[name],
            transit_gateway_route_table_id=tables[table].ref,
        )
    routes = [("hub", "mynumber"), ("hub", "lgwan"), ("registry", "mynumber"), ("registry", "hub"),
              ("portal", "lgwan"), ("portal", "hub"), ("vpn", "lgwan")]  # fmt: skip
    if broken:
        routes += [("vpn", "hub"), ("portal", "mynumber")]
    for name, table in routes:
        ec2.CfnTransitGatewayRouteTablePropagation(
            construct,
            f"{name}Into{table}",
            transit_gateway_attachment_id=attachments[name],
            transit_gateway_route_table_id=tables[table].ref,
        )


Builder = Callable[[Construct, str], None]

# rule id -> (breaks it, compliant form). Each breaking construct breaks that rule and no other.
CASES: dict[str, tuple[Builder, Builder]] = {
    "GC-NET-5": (lambda s, c: transit(s, c, broken=True), lambda s, c: transit(s, c, broken=False)),
    "GC-NET-1": (lambda s, c: ec2.CfnInternetGateway(s, c), lambda s, c: ec2.CfnTransitGateway(s, c)),
    "GC-NET-2": (
        lambda s, c: ec2.CfnSubnet(s, c, vpc_id=vpc(s).ref, cidr_block="10.10.1.0/24", map_public_ip_on_launch=True),
        lambda s, c: ec2.CfnSubnet(s, c, vpc_id=vpc(s).ref, cidr_block="10.10.2.0/24", map_public_ip_on_launch=False),
    ),
    "GC-NET-3": (lambda s, c: group(s, c, "0.0.0.0/0"), lambda s, c: group(s, c, "10.20.0.0/16")),
    "GC-NET-4": (lambda s, c: group(s, c, "192.168.0.0/16"), lambda s, c: group(s, c, "10.30.0.0/16")),
    "GC-S3-1": (lambda s, c: bucket(s, c, versioned=False), lambda s, c: bucket(s, c)),
    "GC-S3-2": (lambda s, c: bucket(s, c, enforce_ssl=False), lambda s, c: bucket(s, c)),
    "GC-S3-3": (
        lambda s, c: bucket(
            s,
            c,
            block_public_access=s3.BlockPublicAccess(
                block_public_acls=True, ignore_public_acls=True, block_public_policy=True, restrict_public_buckets=False
            ),
        ),
        lambda s, c: bucket(s, c),
    ),
    "GC-S3-4": (
        lambda s, c: bucket(s, c, encryption=s3.BucketEncryption.S3_MANAGED),
        # An SSE-S3 bucket that receives server access logs is the allowed exception.
        lambda s, c: bucket(
            s, c, server_access_logs_bucket=bucket(s, f"{c}Logs", encryption=s3.BucketEncryption.S3_MANAGED)
        ),
    ),
    "GC-LOG-1": (
        lambda s, c: logs.LogGroup(
            s, c, retention=logs.RetentionDays.ONE_WEEK, removal_policy=cdk.RemovalPolicy.RETAIN
        ),
        lambda s, c: logs.LogGroup(
            s,
            c,
            encryption_key=key(cdk.Stack.of(s)),
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        ),
    ),
    "GC-EC2-1": (lambda s, c: host(s, c, tokens="optional"), lambda s, c: host(s, c)),
    "GC-EC2-2": (lambda s, c: host(s, c, key_name="ops"), lambda s, c: host(s, c)),
    "GC-EC2-3": (lambda s, c: host(s, c, encrypted=False), lambda s, c: host(s, c)),
    "GC-EC2-4": (lambda s, c: host(s, c, protect=False), lambda s, c: host(s, c)),
    "GC-STATE-1": (lambda s, c: bucket(s, c, removal_policy=cdk.RemovalPolicy.DESTROY), lambda s, c: bucket(s, c)),
    "GC-BACKUP-1": (lambda s, c: volume(s, c), lambda s, c: selection_of(s, f"{c}Selection", volume(s, c))),
    "GC-TAG-1": (
        lambda s, c: cdk.Tags.of(bucket(s, c)).add("DataClassification", "secret"),
        lambda s, c: bucket(s, c),
    ),
}
# Rules about a whole stack: (stack options that break it, options of the compliant form).
STACK_CASES: dict[str, tuple[dict, dict]] = {
    "GC-REGION-1": (
        {"env": cdk.Environment(account="111111111111", region="us-east-1")},
        {"env": cdk.Environment(account="111111111111", region="ap-northeast-3")},
    ),
    "GC-STACK-1": ({"termination_protection": False}, {}),
}


def stack_id(rule: str, form: str) -> str:
    return f"{rule.replace('-', '')}{form}"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    outdir: Path = tmp_path_factory.mktemp("rules")
    app = cdk.App(context=cli_context(), outdir=str(outdir))
    stage = cdk.Stage(app, "Rules")
    for key_, value in {
        "Municipality": "Kobe-281000",
        "Environment": "test",
        "System": "test",
        "DataClassification": "internal",
        "ManagedBy": "cdk",
    }.items():
        cdk.Tags.of(stage).add(key_, value)
    for rule, (broken, compliant) in CASES.items():
        stack = cdk.Stack(stage, stack_id(rule, ""), env=TOKYO, termination_protection=True)
        broken(stack, "Broken")
        compliant(stack, "Compliant")
        acknowledged = Construct(stack, "Acknowledged")
        broken(acknowledged, "Resource")
        compliance.acknowledge(
            acknowledged, f"GovCloud::{rule}", "Acknowledged in the rule test to show one finding silenced."
        )
    for rule, (broken_options, compliant_options) in STACK_CASES.items():
        for form, options in (
            ("Broken", broken_options),
            ("Compliant", compliant_options),
            ("Acknowledged", broken_options),
        ):
            stack = cdk.Stack(stage, stack_id(rule, form), **{"env": TOKYO, "termination_protection": True, **options})
            bucket(stack, "Bucket")
            if form == "Acknowledged":
                compliance.acknowledge(
                    stack, f"GovCloud::{rule}", "Acknowledged in the rule test to show one finding silenced."
                )
    from govcloud.compliance.plugin import GovCloudRules

    cdk.Validations.of(stage).add_plugins(GovCloudRules(SETTINGS))
    app.synth()
    return json.loads((outdir / "validation-report.json").read_text())


def _paths(report: dict, key: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for plugin in report["pluginReports"]:
        if plugin["pluginName"] != "GovCloud":
            continue  # CloudFormation Validate warns about the literal AMI and zone of these test hosts
        for violation in plugin.get(key, []):
            out.setdefault(violation["ruleName"], []).extend(
                c["constructPath"] for c in violation["violatingConstructs"]
            )
    return out


def test_every_rule_has_a_case() -> None:
    assert set(CASES) | set(STACK_CASES) == {r.id for r in RULES}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_resource_rule(report, rule: str) -> None:
    prefix = f"Rules/{stack_id(rule, '')}/"
    found = _paths(report, "violations")
    suppressed = _paths(report, "suppressedViolations")
    mine = [p for p in found.get(rule, []) if p.startswith(prefix)]
    assert mine and all(p.startswith(f"{prefix}Broken") for p in mine), mine
    assert [p for p in suppressed.get(rule, []) if p.startswith(prefix)], "the acknowledgement did not register"
    assert all(p.startswith(f"{prefix}Acknowledged") for p in suppressed[rule] if p.startswith(prefix))
    others = [(r, p) for r, paths in found.items() if r != rule for p in paths if p.startswith(prefix)]
    assert others == [], "the broken construct should break only its own rule"


@pytest.mark.parametrize("rule", sorted(STACK_CASES))
def test_stack_rule(report, rule: str) -> None:
    found = _paths(report, "violations")
    suppressed = _paths(report, "suppressedViolations")
    assert found.get(rule) == [f"Rules/{stack_id(rule, 'Broken')}"]
    assert suppressed.get(rule) == [f"Rules/{stack_id(rule, 'Acknowledged')}"]
    for form in ("Broken", "Compliant", "Acknowledged"):
        prefix = f"Rules/{stack_id(rule, form)}"
        assert [(r, p) for r, paths in found.items() if r != rule for p in paths if p.startswith(prefix)] == []


def test_acknowledgement_is_written_into_the_template(report, tmp_path_factory) -> None:
    outdir = next(p for p in tmp_path_factory.getbasetemp().glob("rules*"))
    template = json.loads(next(outdir.glob("assembly-Rules/RulesGCS31*.template.json")).read_text())
    acked = [r for lid, r in template["Resources"].items() if lid.startswith("Acknowledged")]
    assert acked[0]["Metadata"]["govcloud"]["rules_acknowledged"] == [
        {"id": "GC-S3-1", "reason": "Acknowledged in the rule test to show one finding silenced."}
    ]


def test_elb_log_bucket_exemption_needs_the_elb_principal() -> None:
    def template(principal: dict) -> dict:
        return {
            "Resources": {
                "B": {
                    "Type": "AWS::S3::Bucket",
                    "Properties": {
                        "BucketEncryption": {
                            "ServerSideEncryptionConfiguration": [
                                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                            ]
                        }
                    },
                },
                "P": {
                    "Type": "AWS::S3::BucketPolicy",
                    "Properties": {
                        "Bucket": {"Ref": "B"},
                        "PolicyDocument": {
                            "Statement": [
                                {"Effect": "Allow", "Principal": principal, "Action": "s3:PutObject", "Resource": "*"}
                            ]
                        },
                    },
                },
            }
        }

    def kms_findings(principal: dict) -> list[str]:
        stack = Stack(name="s", region="ap-northeast-1", template=template(principal))
        return [f.detail for f in evaluate(stack, SETTINGS) if f.rule == "GC-S3-4"]

    assert kms_findings({"AWS": "arn:aws:iam::582318560864:root"}) == []
    assert kms_findings({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}) == []
    assert kms_findings({"AWS": "arn:aws:iam::999999999999:root"}) != []


def test_segment_isolation_names_each_way_out_of_a_segment() -> None:
    """GC-NET-5 on templates: the hub table learning a link, a segment reaching another, My Number reaching a VPN,
    an attachment without a segment; and an allowed pair that makes a reach legitimate."""
    from govcloud.compliance import transit

    def vpc_attachment(segment: str | None) -> dict:
        tags = [{"Key": "Segment", "Value": segment}] if segment else []
        return {"Type": "AWS::EC2::TransitGatewayVpcAttachment", "Properties": {"Tags": tags}}

    def table(segment: str) -> dict:
        return {
            "Type": "AWS::EC2::TransitGatewayRouteTable",
            "Properties": {"Tags": [{"Key": "Segment", "Value": segment}]},
        }

    def link(segment: str, kind: str) -> dict:
        return {"Type": "Custom::AWS", "Metadata": {transit.ATTACHMENT_METADATA: {"Segment": segment, "Type": kind}}}

    def edge(kind: str, attachment: str, table_id: str) -> dict:
        return {
            "Type": f"AWS::EC2::TransitGateway{kind}",
            "Properties": {
                "TransitGatewayAttachmentId": {"Fn::GetAtt": [attachment, "Id"]}
                if "Vpn" in attachment
                else {"Ref": attachment},
                "TransitGatewayRouteTableId": {"Ref": table_id},
            },
        }

    hub = {
        "Resources": {
            "HubTable": table("hub"), "MyTable": table("mynumber"), "LgTable": table("lgwan"),
            "Hub": vpc_attachment("hub"), "LgVpn": link("lgwan", "vpn"), "MyVpn": link("mynumber", "vpn"),
            "HubAssoc": edge("RouteTableAssociation", "Hub", "HubTable"),
            "LgVpnAssoc": edge("RouteTableAssociation", "LgVpn", "LgTable"),
            "MyVpnAssoc": edge("RouteTableAssociation", "MyVpn", "MyTable"),
            "VpnIntoHub": edge("RouteTablePropagation", "LgVpn", "HubTable"),
            "MyVpnIntoMy": edge("RouteTablePropagation", "MyVpn", "MyTable"),
        },
        "Outputs": {"MyTableId": {"Value": {"Ref": "MyTable"}}, "LgTableId": {"Value": {"Ref": "LgTable"}}},
    }  # fmt: skip
    spoke = {
        "Resources": {"Attachment": vpc_attachment("mynumber"), "Unknown": vpc_attachment(None)},
        "Outputs": {"AttachmentId": {"Value": {"Ref": "Attachment"}}},
    }
    read = lambda stack, output: {"Fn::GetStackOutput": {"StackName": stack, "OutputName": output}}  # noqa: E731
    attachments = {
        "Resources": {
            "Assoc": {"Type": "AWS::EC2::TransitGatewayRouteTableAssociation", "Properties": {
                "TransitGatewayAttachmentId": read("T-Spoke", "AttachmentId"),
                "TransitGatewayRouteTableId": read("T-Hub", "MyTableId")}},
            "IntoLgwan": {"Type": "AWS::EC2::TransitGatewayRoute", "Properties": {
                "TransitGatewayAttachmentId": {"Fn::GetAtt": ["LgVpnLookup", "Id"]},
                "TransitGatewayRouteTableId": read("T-Hub", "MyTableId")}},
            "LgVpnLookup": link("lgwan", "direct-connect-gateway"),
        }
    }  # fmt: skip
    graph = transit.build({"T-Hub": hub, "T-Spoke": spoke, "T-Attachments": attachments})
    found = sorted((node[1], why) for node, why in transit.isolation_findings(graph, (), ("mynumber",)))
    assert found == [
        ("IntoLgwan", "segment 'mynumber' reaches segment 'lgwan' (direct-connect-gateway), which no allowed pair names"),
        ("MyVpnIntoMy", "segment 'mynumber' reaches a VPN of segment 'mynumber', over the internet"),
        ("VpnIntoHub", "the hub's table, which every segment's traffic shares, routes to a vpn link of segment "
                       "'lgwan': an advertisement there can capture traffic meant for another segment"),
    ]  # fmt: skip
    allowed = {n[1] for n, _ in transit.isolation_findings(graph, (("mynumber", "lgwan"),), ())}
    assert allowed == {"VpnIntoHub"}  # the pair makes the reach legitimate; nothing is closed
    hub["Resources"]["Stray"] = edge("RouteTableAssociation", "Unknown", "HubTable")
    spoke["Resources"]["Unknown"] = vpc_attachment(None)
    stray = transit.build({"T-Hub": {**hub, "Resources": {**hub["Resources"], "Unknown": vpc_attachment(None),
                                                        "UnknownIntoMy": edge("RouteTablePropagation", "Unknown", "MyTable")}},
                           "T-Spoke": spoke, "T-Attachments": attachments})  # fmt: skip
    assert any("is not stated: tag it" in why for _, why in transit.isolation_findings(stray, (), ("mynumber",)))


def test_ingress_cidr_tokens_are_findings() -> None:
    template = {
        "Resources": {
            "G": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {"SecurityGroupIngress": [{"CidrIp": {"Fn::GetAtt": ["Vpc", "CidrBlock"]}}]},
            }
        }
    }
    findings = evaluate(Stack(name="s", region="ap-northeast-1", template=template), SETTINGS)
    assert [(f.rule, f.detail) for f in findings if f.rule == "GC-NET-4"] == [
        ("GC-NET-4", "ingress CIDR is not a literal; take CIDRs from config")
    ]


def test_ingress_from_the_union_of_configured_networks_is_allowed() -> None:
    """A merged supernet of two adjacent configured networks is inside the configured space; one bigger is not."""
    settings = dataclasses.replace(SETTINGS, allowed_ingress_cidrs=("10.101.0.0/20", "10.101.16.0/20"))

    def findings(cidr: str) -> list[str]:
        template = {
            "Resources": {
                "G": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"SecurityGroupIngress": [{"CidrIp": cidr}]}}
            }
        }
        stack = Stack(name="s", region="ap-northeast-1", template=template)
        return [f.detail for f in evaluate(stack, settings) if f.rule == "GC-NET-4"]

    assert findings("10.101.0.0/19") == []
    assert findings("10.101.8.0/21") == []
    assert findings("10.101.0.0/18") == ["ingress from 10.101.0.0/18, which is not inside a configured network"]
