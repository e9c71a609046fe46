"""Business system stacks: the resident registry's hosts per role, access, monitoring, patching and backup."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest

from govcloud import naming
from govcloud.config import ConfigError, parse
from govcloud.os_profiles import PROFILES
from govcloud.stage import GovCloudStage
from tests.conftest import config_data
from tests.support import admitted_roles, cli_context, props

SYS = "KobeStg-System-ResidentRegistry"
DR = "KobeStg-DR-ResidentRegistry"
RR_ACCOUNT = "111100000003"
CITY_HALL = "172.16.0.0/16"
HOSTS = {"web": ["Web1", "Web2"], "db": ["Db1", "Db2"], "batch": ["Batch1"]}


def short(logical_id: str) -> str:
    """A logical ID without the hash CDK appends to nested constructs: ``Web1EEBE43FB`` -> ``Web1``."""
    return re.sub(r"[0-9A-F]{8}$", "", logical_id)


def by_short(resources: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {short(lid): r for lid, r in resources.items()}


def lid_of(stg: Any, type_: str, name: str) -> str:
    """The logical ID of the resource of ``type_`` in the system stack whose short name is ``name``."""
    return next(lid for lid in stg.resources(SYS, type_) if short(lid) == name)


def tags(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in props(resource).get("Tags", [])}


def output_name(value: Any) -> str:
    """The output a weak cross-stack reference (Fn::GetStackOutput) reads."""
    return value["Fn::GetStackOutput"]["OutputName"]


def group_of(ref: Any) -> str:
    return ref["Fn::GetAtt"][0]


# ----- hosts per role -----


def test_hosts_per_role_with_their_sizes_and_subnet_tiers(stg, stg_cfg) -> None:
    instances = by_short(stg.resources(SYS, "AWS::EC2::Instance"))
    assert sorted(instances) == sorted(h for hosts in HOSTS.values() for h in hosts)
    roles = stg_cfg.systems["resident-registry"].roles
    for role_name, hosts in HOSTS.items():
        role = roles[role_name]
        subnets = []
        for host in hosts:
            p = props(instances[host])
            assert p["InstanceType"] == role.instance_type
            assert tags(instances[host])["Role"] == role_name
            root = p["BlockDeviceMappings"][0]
            assert root["DeviceName"] == PROFILES[role.os].family.root_device
            assert root["Ebs"]["VolumeSize"] == role.root_volume_gb
            subnets.append(output_name(p["SubnetId"]))
        tier = "Application" if role.tier == "application" else "Data"
        assert all(f"Vpc{tier}Subnet" in s for s in subnets), subnets
        if len(hosts) == 2:  # a pair spans both zones
            assert "Subnet1" in subnets[0] and "Subnet2" in subnets[1]


@pytest.mark.parametrize("host", [h for hosts in HOSTS.values() for h in hosts])
def test_every_host_is_hardened(stg, host: str) -> None:
    p = props(by_short(stg.resources(SYS, "AWS::EC2::Instance"))[host])
    assert p["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"}
    assert "KeyName" not in p
    assert "NetworkInterfaces" not in p  # so no AssociatePublicIpAddress; the subnets map no public IPs either
    assert p["Monitoring"] is True
    root = p["BlockDeviceMappings"][0]["Ebs"]
    assert root["Encrypted"] is True
    assert "ResidentDataKey" in output_name(root["KmsKeyId"])
    role = host.rstrip("0123456789")  # Web1 -> Web: each host role has its own role and profile
    assert p["IamInstanceProfile"] == {"Ref": lid_of(stg, "AWS::IAM::InstanceProfile", f"HostIdentity{role}Profile")}


def test_termination_protection_in_production_only(stg, prod) -> None:
    """Staging is torn down and rebuilt; production hosts cannot be terminated by one mistaken call."""
    staging = [props(r)["DisableApiTermination"] for r in stg.resources(SYS, "AWS::EC2::Instance").values()]
    production = [
        props(r)["DisableApiTermination"]
        for r in prod.resources("KobeProd-System-ResidentRegistry", "AWS::EC2::Instance").values()
    ]
    assert staging == [False] * 5 and production == [True] * 5
    for synth, stack, expected in (
        (stg, "KobeStg-NetworkHub", "DISABLED"),
        (stg, "KobeStg-Spoke-ResidentRegistry", "DISABLED"),
        (prod, "KobeProd-NetworkHub", "ENABLED"),
        (prod, "KobeProd-Spoke-ResidentRegistry", "ENABLED"),
    ):
        associations = synth.resources(stack, "AWS::Route53Resolver::FirewallRuleGroupAssociation").values()
        assert {props(a)["MutationProtection"] for a in associations} == {expected}, stack  # hub: 3 VPCs


def test_only_rhel_hosts_install_the_ssm_agent_from_the_regional_bucket(stg) -> None:
    """Red Hat's images lack the SSM agent; without it a host never registers (no sessions, patching, agent)."""
    import base64

    region = "ap-northeast-1"
    for host, resource in by_short(stg.resources(SYS, "AWS::EC2::Instance")).items():
        user_data = props(resource).get("UserData")
        if not host.startswith("Db"):  # Windows and Amazon Linux images ship the agent
            assert user_data is None, host
            continue
        script = user_data["Fn::Base64"]
        assert base64.b64encode(script.encode())  # a literal script, no token
        assert (
            f"https://s3.{region}.amazonaws.com/amazon-ssm-{region}/latest/linux_amd64/amazon-ssm-agent.rpm" in script
        )
        assert "systemctl enable --now amazon-ssm-agent" in script
    # The download is unsigned (no CLI on the image): the S3 gateway endpoint admits exactly that object prefix.
    endpoint = next(iter(stg.resources("KobeStg-Spoke-ResidentRegistry", "AWS::EC2::VPCEndpoint").values()))
    statements = {s["Sid"]: s for s in props(endpoint)["PolicyDocument"]["Statement"] if "Sid" in s}
    anonymous = statements["SsmAgentPackageForHostsWithoutIt"]
    assert anonymous["Action"] == "s3:GetObject" and "Condition" not in anonymous
    assert anonymous["Resource"] == f"arn:aws:s3:::amazon-ssm-{region}/latest/*"


def test_data_volumes_are_formatted_only_when_blank_and_mounted(stg) -> None:
    documents = list(stg.resources(SYS, "AWS::SSM::Document").values())
    document = next(d for d in documents if props(d)["Name"] == "kobe-stg-resident-registry-data-volume")
    content = props(document)["Content"]
    linux, windows = (step["inputs"]["runCommand"] for step in content["mainSteps"])
    # Linux: mkfs only when blkid finds no file system; mounted by UUID with nofail.
    mkfs = next(line for line in linux if "mkfs" in line)
    assert mkfs.startswith('if ! blkid "$device"')
    assert any("nofail" in line for line in linux)
    # Windows: only a RAW disk is initialized and formatted; a formatted one only gets its letter back.
    assert any("PartitionStyle -eq 'RAW'" in line for line in windows)
    format_at = next(i for i, line in enumerate(windows) if "Format-Volume" in line)
    raw_at = next(i for i, line in enumerate(windows) if "PartitionStyle -eq 'RAW'" in line)
    elseif_at = next(i for i, line in enumerate(windows) if line.startswith("} elseif"))
    assert raw_at < format_at < elseif_at
    associations = {
        props(a)["AssociationName"]: a
        for a in stg.resources(SYS, "AWS::SSM::Association").values()
        if props(a)["AssociationName"].endswith("-data-volume")
    }
    assert sorted(associations) == sorted(
        f"kobe-stg-resident-registry-{role}-{i}-data-volume" for role, hosts in HOSTS.items() for i in
        range(1, len(hosts) + 1)
    )  # fmt: skip
    for name, association in associations.items():
        host = next(
            h
            for h in (x for hs in HOSTS.values() for x in hs)
            if name.endswith(f"-{h[:-1].lower()}-{h[-1]}-data-volume")
        )
        p = props(association)
        assert p["Targets"] == [{"Key": "InstanceIds", "Values": [{"Ref": lid_of(stg, "AWS::EC2::Instance", host)}]}]
        assert p["Parameters"] == {"VolumeId": [{"Ref": lid_of(stg, "AWS::EC2::Volume", f"{host}DataVolume")}]}
        assert lid_of(stg, "AWS::EC2::VolumeAttachment", f"{host}DataAttachment") in association["DependsOn"]


def test_data_volumes_are_separate_encrypted_and_outlive_their_host(stg, stg_cfg) -> None:
    volumes = by_short(stg.resources(SYS, "AWS::EC2::Volume"))
    attachments = [props(a) for a in stg.resources(SYS, "AWS::EC2::VolumeAttachment").values()]
    roles = stg_cfg.systems["resident-registry"].roles
    assert sorted(volumes) == sorted(f"{h}DataVolume" for hosts in HOSTS.values() for h in hosts)
    for role_name, hosts in HOSTS.items():
        for host in hosts:
            volume = volumes[f"{host}DataVolume"]
            volume_ref = {"Ref": lid_of(stg, "AWS::EC2::Volume", f"{host}DataVolume")}
            host_ref = {"Ref": lid_of(stg, "AWS::EC2::Instance", host)}
            assert volume["DeletionPolicy"] == "Retain" and volume["UpdateReplacePolicy"] == "Retain"
            assert props(volume)["Encrypted"] is True
            assert "ResidentDataKey" in output_name(props(volume)["KmsKeyId"])
            assert props(volume)["Size"] == roles[role_name].data_volume_gb
            assert next(a for a in attachments if a["VolumeId"] == volume_ref)["InstanceId"] == host_ref


def test_hosts_launch_from_a_pinned_image_and_carry_the_one_they_should_run(stg, prod) -> None:
    """ImageId never follows a release (that would replace the host); the Image tag names what update-image applies."""
    images = {h: props(r)["ImageId"] for h, r in by_short(stg.resources(SYS, "AWS::EC2::Instance")).items()}
    image_tags = {h: tags(r)["Image"] for h, r in by_short(stg.resources(SYS, "AWS::EC2::Instance")).items()}
    assert images["Web1"] == images["Web2"] == "ami-0a1b2c3d4e5f60005"  # launched_from
    assert image_tags["Web1"] == "latest"
    assert images["Db1"] == image_tags["Db1"] == "ami-0a1b2c3d4e5f60001"
    prod_images = [props(r)["ImageId"] for r in prod.resources("KobeProd-System-ResidentRegistry").values() if
                   r["Type"] == "AWS::EC2::Instance"]  # fmt: skip
    assert prod_images and all(i.startswith("ami-") for i in prod_images)
    assert "resolve:ssm" not in json.dumps(stg.template(SYS))


@pytest.mark.parametrize(
    ("env", "role", "change", "key", "message"),
    [
        ("kobe-prod", "web", {"ami": "latest"}, "ami", "production hosts run a pinned AMI ID per region"),
        ("kobe-stg", "db", {"ami": "latest"}, "ami", "AWS publishes no public SSM parameter for rhel-9"),
        (
            "kobe-stg",
            "db",
            {"ami": {"ap-northeast-3": "ami-0a1b2c3d4e5f60002"}},
            "ami",
            "needs the AMI ID of the primary",
        ),
        ("kobe-stg", "web", {"launched_from": None}, "launched_from", 'required with ami = "latest"'),
        (
            "kobe-stg",
            "db",
            {"launched_from": {"ap-northeast-3": "ami-0a1b2c3d4e5f60002"}},
            "launched_from",
            "needs the AMI ID of the primary region",
        ),
    ],
)
def test_bad_amis_are_rejected(env: str, role: str, change: dict, key: str, message: str) -> None:
    data = config_data(env)
    conf = data["systems"]["resident-registry"]["roles"][role]
    for name, value in change.items():
        if value is None:
            conf.pop(name, None)
        else:
            conf[name] = value
    with pytest.raises(ConfigError) as error:
        parse(data, f"config/{env}.toml")
    assert f"systems.resident-registry.roles.{role}.{key}" in str(error.value)
    assert message in str(error.value)


# ----- access -----


def test_security_groups_admit_only_configured_callers(stg) -> None:
    groups = stg.resources(SYS, "AWS::EC2::SecurityGroup")
    ingress = [props(r) for r in stg.resources(SYS, "AWS::EC2::SecurityGroupIngress").values()]
    inline = [(lid, rule) for lid, g in groups.items() for rule in props(g).get("SecurityGroupIngress", [])]
    # The load balancer: TLS from the city hall only.
    assert [(lid[:24], r["CidrIp"], r["FromPort"]) for lid, r in inline] == [
        ("LoadBalancerSecurityGrou", CITY_HALL, 443)
    ]
    by_target = {(group_of(r["GroupId"]), group_of(r["SourceSecurityGroupId"]), r["FromPort"]) for r in ingress}
    assert by_target == {
        ("WebSecurityGroup73AF7387", "LoadBalancerSecurityGroup3036A0FC", 8443),
        ("DbSecurityGroupE9D701AD", "WebSecurityGroup73AF7387", 5432),
        ("DbSecurityGroupE9D701AD", "BatchSecurityGroup77EC865F", 5432),
    }
    assert not stg.resources(SYS, "AWS::EC2::SecurityGroupIngress").keys() & {"BatchSecurityGroup77EC865F"}


def test_security_groups_send_only_where_traffic_must_go(stg) -> None:
    # hub endpoints, WSUS, RHEL mirror, and the spoke's own endpoints (execute-api) in its application subnets
    own_endpoints = {
        props(r)["CidrBlock"]
        for lid, r in stg.resources("KobeStg-Spoke-ResidentRegistry", "AWS::EC2::Subnet").items()
        if lid.startswith("VpcApplication")
    }
    assert own_endpoints == {"10.101.0.0/23", "10.101.2.0/23"}
    allowed_cidrs = {"10.100.0.0/22", "172.16.10.20/32", "172.16.10.21/32", *own_endpoints}
    for lid, group in stg.resources(SYS, "AWS::EC2::SecurityGroup").items():
        for rule in props(group).get("SecurityGroupEgress", []):
            assert rule["CidrIp"] in allowed_cidrs and rule["FromPort"] == 443, (lid, rule)
    for lid, rule in stg.resources(SYS, "AWS::EC2::SecurityGroupEgress").items():
        p = props(rule)
        assert "CidrIp" not in p, lid
        assert p.get("DestinationPrefixListId") == "pl-61a54008" or "DestinationSecurityGroupId" in p, lid


def test_no_ssh_rdp_or_open_ingress_anywhere(stg, prod) -> None:
    for synth in (stg, prod):
        for stack, lid, group in synth.all_resources("AWS::EC2::SecurityGroup"):
            rules = props(group).get("SecurityGroupIngress", [])
            for rule in rules:
                assert rule.get("CidrIp") not in ("0.0.0.0/0",) and rule.get("CidrIpv6") != "::/0", (stack, lid)
                assert not rule.get("FromPort", 0) <= 22 <= rule.get("ToPort", -1), (stack, lid)
                assert not rule.get("FromPort", 0) <= 3389 <= rule.get("ToPort", -1), (stack, lid)
        for stack, lid, rule in synth.all_resources("AWS::EC2::SecurityGroupIngress"):
            p = props(rule)
            assert p.get("CidrIp") != "0.0.0.0/0", (stack, lid)
            assert not p["FromPort"] <= 22 <= p["ToPort"] and not p["FromPort"] <= 3389 <= p["ToPort"], (stack, lid)
        assert not synth.all_resources("AWS::EC2::KeyPair")


@pytest.mark.parametrize("port", [22, 3389])
def test_config_cannot_open_ssh_or_rdp(port: int) -> None:
    data = config_data()
    data["systems"]["resident-registry"]["roles"]["db"]["ports"] = [5432, port]
    with pytest.raises(ConfigError, match="SSH and RDP are never opened"):
        parse(data, "kobe-stg")


def test_internal_load_balancer_listens_with_tls_only(stg, stg_cfg) -> None:
    lb = props(next(iter(stg.resources(SYS, "AWS::ElasticLoadBalancingV2::LoadBalancer").values())))
    assert lb["Scheme"] == "internal"
    attributes = {a["Key"]: a["Value"] for a in lb["LoadBalancerAttributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"
    listeners = [props(r) for r in stg.resources(SYS, "AWS::ElasticLoadBalancingV2::Listener").values()]
    assert [(x["Port"], x["Protocol"]) for x in listeners] == [(443, "HTTPS")]
    assert listeners[0]["Certificates"] == [{"CertificateArn": stg_cfg.systems["resident-registry"].certificate_arn}]
    target_group = props(next(iter(stg.resources(SYS, "AWS::ElasticLoadBalancingV2::TargetGroup").values())))
    assert target_group["Port"] == 8443 and target_group["Protocol"] == "HTTPS"
    assert [t["Id"] for t in target_group["Targets"]] == [
        {"Ref": lid_of(stg, "AWS::EC2::Instance", "Web1")},
        {"Ref": lid_of(stg, "AWS::EC2::Instance", "Web2")},
    ]


def test_host_role_allows_only_agent_session_and_patching_needs(stg) -> None:
    """Finding: one host role served every tier, so a web host could assume the linkage caller role. Each host role
    now runs as an IAM role of its own; the agent's permissions are one managed policy they share."""
    roles = by_short(stg.resources(SYS, "AWS::IAM::Role"))
    host_roles = {k: props(v) for k, v in roles.items() if k.startswith("HostIdentity")}
    assert sorted(r["RoleName"] for r in host_roles.values()) == [
        f"kobe-stg-resident-registry-{role}-host" for role in ("batch", "db", "web")
    ]
    for role in host_roles.values():
        assert "ManagedPolicyArns" not in role and "Policies" not in role
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "ec2.amazonaws.com"}
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": RR_ACCOUNT}}
    managed = props(by_short(stg.resources(SYS, "AWS::IAM::ManagedPolicy"))["HostIdentityPolicy"])
    assert len(managed["Roles"]) == 3
    policy = managed["PolicyDocument"]
    actions = {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert all(a.split(":")[0] in {"ssm", "ssmmessages", "ec2messages", "ec2", "cloudwatch", "logs", "s3", "kms"}
               for a in actions)  # fmt: skip
    assert not any(a.endswith(":*") or a == "*" for a in actions)
    assert {"s3:PutObject", "s3:GetEncryptionConfiguration", "s3:GetObject"} == {
        a for a in actions if a.startswith("s3:")
    }
    get_object = next(s for s in policy["Statement"] if s["Action"] == "s3:GetObject")
    assert all(r.startswith("arn:aws:s3:::") and r.endswith("/*") for r in get_object["Resource"])
    assert "arn:aws:s3:::patch-baseline-snapshot-ap-northeast-1/*" in get_object["Resource"]
    assert {"ec2:DescribeTags", "ec2:DescribeVolumes"} == {a for a in actions if a.startswith("ec2:")}


# ----- calling the data linkage platform -----


def _statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def test_hosts_call_the_linkage_platform_as_the_role_it_admits(stg) -> None:
    """The platform's resource policies name ``kobe-stg-rr-linkage``; the system stack creates that role, lets its
    hosts assume it, and gives it the identity half of each cross-account call: its own routes and folders only."""
    roles = {props(r).get("RoleName"): lid for lid, r in stg.resources(SYS, "AWS::IAM::Role").items()}
    # only the batch hosts call the platform (linkage_caller): neither web nor db hosts may assume the caller role
    caller, host = roles["kobe-stg-rr-linkage"], roles["kobe-stg-resident-registry-batch-host"]
    trust = props(stg.resources(SYS, "AWS::IAM::Role")[caller])["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"AWS": {"Fn::GetAtt": [host, "Arn"]}}}
    ]
    policies = by_short(stg.resources(SYS, "AWS::IAM::ManagedPolicy"))
    assume = props(policies["HostsAssumeLinkageCaller"])
    assert assume["Roles"] == [{"Ref": host}]
    assert _statements(assume)["AssumeLinkageCallerRoles"]["Resource"] == {"Fn::GetAtt": [caller, "Arn"]}

    policy = props(policies["LinkageCallerPolicy"])
    assert policy["Roles"] == [{"Ref": caller}]
    statements = _statements(policy)
    # No GET and no outbox: it subscribes to nothing. Its queue carries the notices of its refused batches.
    assert set(statements) == {
        "PostOwnDatasets",
        "UploadToOwnInboxFolders",
        "EncryptUploadsThroughS3",
        "ReadOwnQueue",
        "DecryptQueueMessages",
    }
    api = props(next(iter(stg.resources("KobeStg-Linkage", "AWS::ApiGateway::RestApi").values())))["Policy"]
    admitted = {
        s["Resource"].removeprefix("execute-api:/*")
        for s in api["Statement"]
        if s["Effect"] == "Allow" and admitted_roles(s) == {f"arn:aws:iam::{RR_ACCOUNT}:role/kobe-stg-rr-linkage"}
    }
    assert admitted == {"/POST/v1/datasets/resident-list/records", "/POST/v1/datasets/resident-moves/records"}
    assert statements["PostOwnDatasets"]["Resource"] == [
        f"arn:aws:execute-api:ap-northeast-1:111100000004:*/*{route}" for route in sorted(admitted)
    ]
    bucket = "kobe-stg-linkage-exchange-111100000004-ap-northeast-1"
    assert bucket in {
        props(b).get("BucketName") for b in stg.resources("KobeStg-LinkageData", "AWS::S3::Bucket").values()
    }
    assert statements["UploadToOwnInboxFolders"]["Resource"] == [
        f"arn:aws:s3:::{bucket}/inbox/{dataset}/resident-registry/*" for dataset in ("resident-list", "resident-moves")
    ]
    assert statements["EncryptUploadsThroughS3"]["Condition"] == {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/kobe-stg/linkage"},
        "StringEquals": {"kms:ViaService": "s3.ap-northeast-1.amazonaws.com"},
    }
    aliases = {props(a)["AliasName"] for a in stg.resources("KobeStg-Baseline-Linkage", "AWS::KMS::Alias").values()}
    assert "alias/kobe-stg/linkage" in aliases


def test_a_subscribing_system_reads_its_own_queue_and_records(variant) -> None:
    """In the variant the resident registry subscribes to tax-notices, a dataset of the tax system."""
    system = variant.resources(SYS)
    policy = next(props(r) for lid, r in system.items() if short(lid) == "LinkageCallerPolicy")
    statements = _statements(policy)
    assert (
        statements["GetSubscribedRecords"]["Resource"]
        == "arn:aws:execute-api:ap-northeast-1:111100000004:*/*/GET/v1/datasets/tax-notices/records/*"
    )
    queues = variant.resources("KobeStg-Linkage", "AWS::SQS::Queue")
    names = {props(q)["QueueName"] for q in queues.values() if "QueueName" in props(q)}  # the systems' queues
    assert names == {"kobe-stg-linkage-tax", "kobe-stg-linkage-tax-dead-letters",
                     "kobe-stg-linkage-resident-registry", "kobe-stg-linkage-resident-registry-dead-letters"}  # fmt: skip
    assert (
        statements["ReadOwnQueue"]["Resource"]
        == "arn:aws:sqs:ap-northeast-1:111100000004:kobe-stg-linkage-resident-registry"
    )
    assert "sqs:SendMessage" not in statements["ReadOwnQueue"]["Action"]
    # Files of what it subscribes to, from the outbox (the bucket lets it read committed batches only).
    assert statements["ReadSubscribedFiles"]["Resource"] == (
        "arn:aws:s3:::kobe-stg-linkage-exchange-111100000004-ap-northeast-1/outbox/tax-notices/*"
    )
    assert statements["DecryptFilesThroughS3"]["Action"] == "kms:Decrypt"
    queue_key_alias = next(
        props(a)["AliasName"]
        for a in variant.resources("KobeStg-LinkageData", "AWS::KMS::Alias").values()
        if "queues" in props(a)["AliasName"]
    )
    assert statements["DecryptQueueMessages"]["Condition"]["ForAnyValue:StringEquals"] == {
        "kms:ResourceAliases": queue_key_alias
    }


def test_one_linkage_system_per_spoke() -> None:
    data = config_data()
    data["linkage"]["systems"]["registry-batch"] = {**data["linkage"]["systems"]["resident-registry"]}
    with pytest.raises(ConfigError) as error:
        parse(data, "kobe-stg")
    assert (
        "linkage.systems.registry-batch.spoke = 'resident-registry': already the spoke of linkage system "
        "'resident-registry'" in str(error.value)
    )


def test_session_manager_encrypts_logs_and_times_out(stg, stg_cfg) -> None:
    doc = props(by_short(stg.resources(SYS, "AWS::SSM::Document"))["SessionsPreferences"])
    assert doc["Name"] == "SSM-SessionManagerRunShell" and doc["DocumentType"] == "Session"
    inputs = doc["Content"]["inputs"]
    assert inputs["s3BucketName"] == naming.log_bucket(stg_cfg)
    assert inputs["s3KeyPrefix"] == f"session-manager/{RR_ACCOUNT}"
    assert inputs["s3EncryptionEnabled"] is True and inputs["cloudWatchEncryptionEnabled"] is True
    assert inputs["kmsKeyId"] == {"Ref": lid_of(stg, "AWS::KMS::Key", "SessionsKey")}
    assert inputs["idleSessionTimeout"] == "20"
    assert inputs["runAsEnabled"] is False


# ----- monitoring -----


def test_alarms_per_host_with_recovery(stg) -> None:
    alarms = {short(lid): props(a) for lid, a in stg.resources(SYS, "AWS::CloudWatch::Alarm").items()}
    assert len(alarms) == 5 * 5
    for host in (h for hosts in HOSTS.values() for h in hosts):
        mine = {lid.removeprefix(host): a for lid, a in alarms.items() if lid.startswith(host)}
        assert sorted(mine) == sorted(f"{k}Alarm" for k in ("SystemCheck", "InstanceCheck", "Cpu", "Memory", "Disk"))
        for alarm in mine.values():
            assert alarm["Dimensions"] == [
                {"Name": "InstanceId", "Value": {"Ref": lid_of(stg, "AWS::EC2::Instance", host)}}
            ]
            assert {"Ref": "OperationsTopicC9C1CC12"} in alarm["AlarmActions"]
        assert "arn:aws:automate:ap-northeast-1:ec2:recover" in mine["SystemCheckAlarm"]["AlarmActions"]
        assert "arn:aws:automate:ap-northeast-1:ec2:reboot" in mine["InstanceCheckAlarm"]["AlarmActions"]
    assert alarms["Web1MemoryAlarm"]["MetricName"] == "Memory % Committed Bytes In Use"
    assert alarms["Db1MemoryAlarm"]["MetricName"] == "mem_used_percent"
    assert alarms["Web1DiskAlarm"]["ComparisonOperator"] == "LessThanThreshold"  # free space
    assert alarms["Db1DiskAlarm"]["MetricName"] == "disk_used_percent"


def test_agent_configuration_is_delivered_through_ssm(stg) -> None:
    parameters = {
        props(p)["Name"]: json.loads(props(p)["Value"]) for p in stg.resources(SYS, "AWS::SSM::Parameter").values()
    }
    linux = parameters["AmazonCloudWatch-kobe-stg-resident-registry-syslog"]
    windows = parameters["AmazonCloudWatch-kobe-stg-resident-registry-windows-events"]
    assert set(linux["metrics"]["metrics_collected"]) == {"mem", "disk"}
    assert set(windows["metrics"]["metrics_collected"]) == {"Memory", "LogicalDisk"}
    assert linux["metrics"]["aggregation_dimensions"] == [["InstanceId"]]  # what the alarms' dimensions match
    assert {e["event_name"] for e in windows["logs"]["logs_collected"]["windows_events"]["collect_list"]} == {
        "System", "Application", "Security"}  # fmt: skip
    associations = {props(a)["Name"]: props(a) for a in stg.resources(SYS, "AWS::SSM::Association").values()}
    assert associations["AWS-ConfigureAWSPackage"]["Parameters"]["name"] == ["AmazonCloudWatchAgent"]
    configured = [a for a in stg.resources(SYS, "AWS::SSM::Association").values()
                  if props(a)["Name"] == "AmazonCloudWatch-ManageAgent"]  # fmt: skip
    assert sorted(props(a)["Parameters"]["optionalConfigurationLocation"][0] for a in configured) == sorted(parameters)


def test_amazon_linux_hosts_get_the_syslog_files_the_agent_reads(stg, stg_cfg) -> None:
    """AL2023 logs to the journal only: without rsyslog, /var/log/messages and /var/log/secure never exist."""
    linux = next(
        json.loads(props(p)["Value"])
        for p in stg.resources(SYS, "AWS::SSM::Parameter").values()
        if props(p)["Name"].endswith("-syslog")
    )
    files = {e["file_path"] for e in linux["logs"]["logs_collected"]["files"]["collect_list"]}
    assert files == {"/var/log/messages", "/var/log/secure"}
    shell = [
        props(a)
        for a in stg.resources(SYS, "AWS::SSM::Association").values()
        if props(a)["Name"] == "AWS-RunShellScript"
    ]
    assert len(shell) == 1
    assert {t["Key"]: t["Values"] for t in shell[0]["Targets"]} == {
        "tag:System": ["resident-registry"],
        "tag:OperatingSystem": ["amazon-linux-2023"],
    }
    assert shell[0]["Parameters"]["commands"] == ["dnf install -y rsyslog", "systemctl enable --now rsyslog"]
    al2023_roles = {
        name for name, r in stg_cfg.systems["resident-registry"].roles.items() if r.os == "amazon-linux-2023"
    }
    assert al2023_roles == {"batch"}
    tagged = {
        short(lid)
        for lid, i in stg.resources(SYS, "AWS::EC2::Instance").items()
        if tags(i).get("OperatingSystem") == "amazon-linux-2023"
    }
    assert tagged == set(HOSTS["batch"])
    # dnf reaches the Amazon Linux repositories in S3 through the gateway endpoint, as the host role allows
    host_policy = props(by_short(stg.resources(SYS, "AWS::IAM::ManagedPolicy"))["HostIdentityPolicy"])
    get_object = next(s for s in host_policy["PolicyDocument"]["Statement"] if s["Action"] == "s3:GetObject")
    assert "arn:aws:s3:::al2023-repos-ap-northeast-1-de612dc2/*" in get_object["Resource"]


# ----- patching -----


def test_patch_baselines_per_os_with_the_configured_delay(stg, stg_cfg) -> None:
    baselines = {props(b)["OperatingSystem"]: props(b) for b in stg.resources(SYS, "AWS::SSM::PatchBaseline").values()}
    assert set(baselines) == {"WINDOWS", "REDHAT_ENTERPRISE_LINUX", "AMAZON_LINUX_2023"}
    for baseline in baselines.values():
        rule = baseline["ApprovalRules"]["PatchRules"][0]
        assert rule["ApproveAfterDays"] == stg_cfg.patching.approve_after_days
    assert baselines["WINDOWS"]["PatchGroups"] == ["kobe-stg-resident-registry-web"]
    assert baselines["REDHAT_ENTERPRISE_LINUX"]["PatchGroups"] == ["kobe-stg-resident-registry-db"]
    rhel_source = baselines["REDHAT_ENTERPRISE_LINUX"]["Sources"][0]
    assert "baseurl=https://rhui.city.kobe.lg.jp/rhel9/BaseOS" in rhel_source["Configuration"]
    assert "Sources" not in baselines["AMAZON_LINUX_2023"]  # served from S3 through the gateway endpoint
    wsus = next(
        a for a in stg.resources(SYS, "AWS::SSM::Association").values() if props(a)["Name"] == "AWS-RunPowerShellScript"
    )
    assert any("https://wsus.city.kobe.lg.jp" in line for line in props(wsus)["Parameters"]["commands"])


def test_the_members_of_a_pair_never_reboot_together(stg, stg_cfg) -> None:
    instances = by_short(stg.resources(SYS, "AWS::EC2::Instance"))
    for hosts in HOSTS.values():
        if len(hosts) == 2:
            assert tags(instances[hosts[0]])["PatchWave"] != tags(instances[hosts[1]])["PatchWave"]
    windows = {short(lid): props(w) for lid, w in stg.resources(SYS, "AWS::SSM::MaintenanceWindow").items()}
    assert windows["PatchingInstallAWindow"]["Schedule"] != windows["PatchingInstallBWindow"]["Schedule"]
    assert windows["PatchingScanWindow"]["Schedule"] == stg_cfg.patching.scan_schedule
    targets = {
        short(lid): props(t)["Targets"] for lid, t in stg.resources(SYS, "AWS::SSM::MaintenanceWindowTarget").items()
    }
    assert {"Key": "tag:PatchWave", "Values": ["a"]} in targets["PatchingInstallATargets"]
    assert {"Key": "tag:PatchWave", "Values": ["b"]} in targets["PatchingInstallBTargets"]
    tasks = {short(lid): props(t) for lid, t in stg.resources(SYS, "AWS::SSM::MaintenanceWindowTask").items()}
    run = tasks["PatchingScanTask"]["TaskInvocationParameters"]["MaintenanceWindowRunCommandParameters"]["Parameters"]
    assert run == {"Operation": ["Scan"], "RebootOption": ["NoReboot"]}
    run = tasks["PatchingInstallBTask"]["TaskInvocationParameters"]["MaintenanceWindowRunCommandParameters"][
        "Parameters"
    ]
    assert run == {"Operation": ["Install"], "RebootOption": ["RebootIfNeeded"]}


def test_staging_patches_before_production(stg_cfg, prod_cfg) -> None:
    """Production approves each patch later than staging, so every patch has run in staging first."""
    assert prod_cfg.patching.approve_after_days >= stg_cfg.patching.approve_after_days + 7


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda p: p.update(install_schedules=["cron(0 1 ? * TUE *)"] * 2),
            "patching.install_schedules = ['cron(0 1 ? * TUE *)', 'cron(0 1 ? * TUE *)']: the two waves must differ",
        ),
        (
            lambda p: p["sources"]["rhel-9"].update(cidr="172.20.10.21/32"),
            "patching.sources.rhel-9.cidr = '172.20.10.21/32': not reachable from the spoke of "
            "systems.resident-registry",
        ),
        (
            lambda p: p["sources"].update(
                {"amazon-linux-2023": {"url": "https://al.example.jp", "cidr": "172.16.1.1/32"}}
            ),
            "patching.sources.amazon-linux-2023 = 'https://al.example.jp': not needed",
        ),
        (
            lambda p: p["sources"]["rhel-9"].update(url="http://rhui.city.kobe.lg.jp/rhel9"),
            "patching.sources.rhel-9.url = 'http://rhui.city.kobe.lg.jp/rhel9': does not match the allowed form",
        ),
    ],
)
def test_bad_patch_settings_are_named(mutate: Any, message: str) -> None:
    data = config_data()
    mutate(data["patching"])
    with pytest.raises(ConfigError) as error:
        parse(data, "kobe-stg")
    assert message in str(error.value)


def test_windows_and_rhel_need_an_update_server() -> None:
    data = config_data()
    del data["patching"]["sources"]["rhel-9"]
    with pytest.raises(ConfigError, match=r"patching.sources.rhel-9: required by systems.resident-registry.roles.db"):
        parse(data, "kobe-stg")


# ----- backup -----


def test_backup_plan_rules_copy_every_recovery_point_to_osaka(stg, stg_cfg) -> None:
    plan = props(next(iter(stg.resources(SYS, "AWS::Backup::BackupPlan").values())))["BackupPlan"]
    rules = {r["RuleName"]: r for r in plan["BackupPlanRule"]}
    assert set(rules) == {"daily", "weekly", "monthly"}
    for name, rule in rules.items():
        expected = getattr(stg_cfg.backup, name)
        assert rule["ScheduleExpression"] == expected.schedule
        assert rule["Lifecycle"] == {"DeleteAfterDays": expected.keep_days}
        assert rule["CopyActions"] == [
            {
                "DestinationBackupVaultArn": f"arn:aws:backup:ap-northeast-3:{RR_ACCOUNT}:backup-vault:"
                "kobe-stg-resident-registry-airgapped",
                "Lifecycle": {"DeleteAfterDays": expected.keep_days},
            }
        ]
    assert stg.artifacts[DR]["environment"] == f"aws://{RR_ACCOUNT}/ap-northeast-3"


def test_osaka_copies_sit_where_no_administrator_of_the_account_can_destroy_them(stg, stg_cfg) -> None:
    """Finding: the keys of a system's Tokyo and Osaka vaults sat in its account, so one administrator could make
    every recovery point unreadable. The copies go to a logically air-gapped vault: compliance-locked by AWS, its
    key AWS-owned (nothing of the account to disable), retained."""
    (vault,) = stg.resources(DR, "AWS::Backup::LogicallyAirGappedBackupVault").values()
    p = props(vault)
    assert p["BackupVaultName"] == "kobe-stg-resident-registry-airgapped"
    assert (p["MinRetentionDays"], p["MaxRetentionDays"]) == (
        stg_cfg.backup.min_retention_days,
        stg_cfg.backup.max_retention_days,
    )
    assert "EncryptionKeyArn" not in p and vault["DeletionPolicy"] == "Retain"
    assert not stg.resources(DR, "AWS::Backup::BackupVault") and not stg.resources(DR, "AWS::KMS::Key")
    for rule in ("daily", "weekly", "monthly"):
        keep = getattr(stg_cfg.backup, rule).keep_days
        assert p["MinRetentionDays"] <= keep <= p["MaxRetentionDays"]


def test_vaults_are_locked_and_encrypted(stg, prod) -> None:
    for synth, stack, changeable in ((stg, SYS, None), (prod, "KobeProd-System-ResidentRegistry", 3)):
        for vault in synth.resources(stack, "AWS::Backup::BackupVault").values():
            lock = props(vault)["LockConfiguration"]
            assert lock.get("ChangeableForDays") == changeable
            assert lock["MinRetentionDays"] <= lock["MaxRetentionDays"]
            assert "EncryptionKeyArn" in props(vault)
            assert vault["DeletionPolicy"] == "Retain"


def test_backup_selections_cover_every_host_and_data_volume(stg) -> None:
    selections = {
        short(lid): props(s)["BackupSelection"] for lid, s in stg.resources(SYS, "AWS::Backup::BackupSelection").items()
    }
    by_tag = selections["BackupHostsByTag"]["ListOfTags"][0]
    for lid, resource in (
        *stg.resources(SYS, "AWS::EC2::Instance").items(),
        *stg.resources(SYS, "AWS::EC2::Volume").items(),
    ):
        assert tags(resource)[by_tag["ConditionKey"]] == by_tag["ConditionValue"], lid
    arns = json.dumps(selections["BackupDataVolumes"]["Resources"])
    for volume in stg.resources(SYS, "AWS::EC2::Volume"):
        assert f'{{"Ref": "{volume}"}}' in arns


def test_restore_test_restores_the_latest_host_recovery_point(stg, stg_cfg) -> None:
    plan = props(next(iter(stg.resources(SYS, "AWS::Backup::RestoreTestingPlan").values())))
    assert plan["ScheduleExpression"] == stg_cfg.backup.restore_test_schedule
    assert plan["RecoveryPointSelection"]["Algorithm"] == "LATEST_WITHIN_WINDOW"
    vault = lid_of(stg, "AWS::Backup::BackupVault", "BackupVault")
    assert plan["RecoveryPointSelection"]["IncludeVaults"] == [{"Fn::GetAtt": [vault, "BackupVaultArn"]}]
    selection = props(next(iter(stg.resources(SYS, "AWS::Backup::RestoreTestingSelection").values())))
    assert selection["ProtectedResourceType"] == "EC2"
    overrides = selection["RestoreMetadataOverrides"]
    assert set(overrides) == {"vpcId", "subnetId", "securityGroupIds", "requireImdsV2"}
    isolated = lid_of(stg, "AWS::EC2::SecurityGroup", "BackupRestoreTestSecurityGroup")
    assert overrides["securityGroupIds"] == {"Fn::Join": ["", ['["', {"Fn::GetAtt": [isolated, "GroupId"]}, '"]']]}
    group = props(stg.resources(SYS, "AWS::EC2::SecurityGroup")[isolated])
    assert "SecurityGroupIngress" not in group  # nothing reaches a restored test host


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b["daily"].update(keep_days=500), "backup.daily.keep_days = 500: outside the vault lock's bounds"),
        (lambda b: b["daily"].update(keep_days=5), "the municipal standard keeps at least 7 daily backups"),
        (lambda b: b.update(min_retention_days=500), "backup.min_retention_days = 500: exceeds"),
    ],
)
def test_backup_retentions_stay_inside_the_lock(change: Any, message: str) -> None:
    data = config_data()
    change(data["backup"])
    with pytest.raises(ConfigError) as error:
        parse(data, "kobe-stg")
    assert message in str(error.value)


def test_production_vault_lock_is_compliance_mode() -> None:
    data = config_data("kobe-prod")
    data["backup"]["vault_lock_mode"] = "governance"
    with pytest.raises(ConfigError, match="production vaults must use compliance mode"):
        parse(data, "kobe-prod")


# ----- config -----


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s.update(spoke="linkage"), "that spoke lives in account 'linkage'"),
        (
            lambda s: s["roles"]["db"].update(callers=["web", "reporting"]),
            "systems.resident-registry.roles.db.callers[1]",
        ),
        (lambda s: s.pop("certificate_arn"), "the internal load balancer listens with TLS only"),
        (lambda s: s["roles"]["db"].update(load_balancer=True), "at most one role per system"),
        (lambda s: s.update(account="linkage", spoke="linkage"), "must hold the 'resident-data' data class"),
        (lambda s: s["roles"]["web"].update(count=0), "systems.resident-registry.roles.web.count = 0"),
        (lambda s: s["roles"]["web"].update(os="windows-server-2019"), "systems.resident-registry.roles.web.os"),
    ],
)
def test_bad_system_entries_are_named(mutate: Any, message: str) -> None:
    data = config_data()
    mutate(data["systems"]["resident-registry"])
    with pytest.raises(ConfigError) as error:
        parse(data, "kobe-stg")
    assert message in str(error.value)


def test_two_systems_cannot_share_an_account() -> None:
    data = config_data()
    data["systems"]["copy"] = data["systems"]["resident-registry"]
    with pytest.raises(ConfigError, match="each business system has its own account"):
        parse(data, "kobe-stg")


def test_business_systems_need_patching_and_backup_settings() -> None:
    data = config_data()
    del data["patching"], data["backup"]
    with pytest.raises(ConfigError) as error:
        parse(data, "kobe-stg")
    assert "patching: required when business systems are configured" in str(error.value)
    assert "backup: required when business systems are configured" in str(error.value)


def test_a_second_system_is_a_config_entry(variant) -> None:
    """Adding a system is config only: in the variant, welfare's account, spoke and entry give a second system stack
    and Osaka vault, and, calling no linkage platform, no caller roles."""
    stage = variant.stage
    assert set(stage.systems) == {"resident-registry", "welfare"}
    assert stage.systems["welfare"].account == "111100000009"
    assert set(stage.disaster_recovery) == {"data-lake", "resident-registry", "welfare"}
    assert stage.systems["welfare"].linkage_callers == []
    assert len(stage.systems["resident-registry"].linkage_callers) == 1
    assert variant.resources("KobeStg-DR-Welfare", "AWS::Backup::LogicallyAirGappedBackupVault")


def test_an_account_with_the_data_lake_and_a_system_gets_one_osaka_stack() -> None:
    data = config_data()
    data["accounts"]["data-lake"]["data_classes"] = ["data-lake", "resident-data"]
    data["network"]["spokes"]["data-lake"] = {
        "account": "data-lake",
        "segment": "mynumber",
        "cidr": "10.101.32.0/20",
    }
    data["network"]["segments"]["mynumber"]["direct_connect_allowed_prefixes"].append("10.101.32.0/20")
    data["systems"]["resident-registry"].update(account="data-lake", spoke="data-lake")
    data["linkage"]["systems"]["resident-registry"]["spoke"] = "data-lake"
    data["linkage"]["systems"]["resident-registry"]["account"] = "111100000005"
    data["network"]["spokes"]["data-lake"]["endpoints_in_spoke"] = ["execute-api"]
    stage = GovCloudStage(cdk.App(context=cli_context()), parse(data, "kobe-stg, system in the data lake account"))
    assert set(stage.disaster_recovery) == {"data-lake"}
    dr = stage.disaster_recovery["data-lake"]
    assert set(dr.replicas) == {"raw", "curated"} and set(dr.vaults) == {"resident-registry"}


# ----- a new image for running hosts -----


@pytest.fixture(scope="module")
def new_images(stg) -> list[Any]:
    """Changes to the system stack when every OS family gets a new image: Windows (web) and Amazon Linux (batch) the
    way the README says (the old image moved to launched_from), RHEL (db) by editing ami alone."""
    from aws_cdk.assertions import Template

    from govcloud.review.changes import compare_stack

    data = config_data()
    roles = data["systems"]["resident-registry"]["roles"]
    for name, ami in {
        "web": "ami-0c1b2c3d4e5f60005",
        "db": "ami-0c1b2c3d4e5f60001",
        "batch": "ami-0c1b2c3d4e5f60003",
    }.items():
        if name != "db":
            roles[name].setdefault("launched_from", roles[name]["ami"])
        roles[name]["ami"] = {"ap-northeast-1": ami, "ap-northeast-3": ami[:-1] + "9"}
    stage = GovCloudStage(cdk.App(context=cli_context()), parse(data, "kobe-stg, new images"))
    template = Template.from_stack(stage.systems["resident-registry"]).to_json()
    changes = compare_stack(SYS, stg.template(SYS), template)
    return [c for c in changes if c.details != ["metadata only"]]  # no packs ran on the variant


def test_a_new_image_the_readme_way_changes_tags_only(new_images) -> None:
    """Windows and Amazon Linux hosts: their Image tags change and nothing else. No instance, volume or attachment is
    replaced, so no data volume is detached; update-image then replaces the root volumes."""
    changed = {
        (short(c.logical_id), c.kind, tuple(c.details)) for c in new_images if not short(c.logical_id).startswith("Db")
    }
    assert changed == {(host, "changed", ("Tags",)) for host in (*HOSTS["web"], *HOSTS["batch"])}


def test_a_new_image_without_launched_from_is_stopped_by_the_guard_with_the_way_out(new_images) -> None:
    from govcloud.review.changes import ChangeSet, render

    replaced = {short(c.logical_id) for c in new_images if c.kind == "replaced"}
    assert replaced == {"Db1", "Db2", "Db1DataAttachment", "Db2DataAttachment"}
    text, ok = render(ChangeSet(by_stack={SYS: new_images}, stacks_added=[], stacks_removed=[]))
    assert not ok
    assert "keep the image the host was created from in the role's launched_from" in text
    assert "python -m govcloud.ops update-image" in text
