"""The review report: what a reviewer needs to see of one environment's templates, as Markdown."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from govcloud.compliance.rules import RULES, STATEFUL_TYPES, as_list
from govcloud.review.assembly import Assembly, StackArtifact

NONE = "_None in this environment._"


def _cell(value: Any) -> str:
    """A template value as short, table-safe text: Refs and GetAtts become their logical IDs."""
    if isinstance(value, Mapping):
        if "Ref" in value:
            return f"`{value['Ref']}`"
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return f"`{target[0]}.{target[1]}`" if isinstance(target, list) else f"`{target}`"
        if "Fn::Join" in value:
            return "".join(_cell(v).strip("`") if isinstance(v, Mapping) else str(v) for v in value["Fn::Join"][1])
        if "Fn::Sub" in value:
            return str(value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0])
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: Iterable[list[Any]]) -> list[str]:
    rows = list(rows)
    if not rows:
        return [NONE]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _resources(stacks: list[StackArtifact], *types: str) -> Iterator[tuple[StackArtifact, str, dict[str, Any]]]:
    for stack in stacks:
        for logical_id, resource in stack.resources.items():
            if not types or resource.get("Type") in types:
                yield stack, logical_id, resource


def _props(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    value = resource.get("Properties", {})
    return value if isinstance(value, Mapping) else {}


def section_stacks(stacks: list[StackArtifact]) -> list[str]:
    lines = ["## Stacks", ""]
    lines += _table(
        ["stack", "account", "region", "termination protection", "resources", "description"],
        (
            [s.name, s.account, s.region, "yes" if s.termination_protection else "no", len(s.resources), s.description]
            for s in stacks
        ),
    )
    counts = Counter(r["Type"] for _, _, r in _resources(stacks))
    lines += ["", "### Resources by type", ""]
    lines += _table(["type", "count"], ([t, n] for t, n in sorted(counts.items())))
    return lines


def section_network(stacks: list[StackArtifact]) -> list[str]:
    rules = []
    for stack, logical_id, group in _resources(stacks, "AWS::EC2::SecurityGroup"):
        for direction, key in (("ingress", "SecurityGroupIngress"), ("egress", "SecurityGroupEgress")):
            for rule in as_list(_props(group).get(key, [])):
                peer = rule.get("CidrIp") or rule.get("CidrIpv6") or rule.get("SourceSecurityGroupId")
                peer = peer or rule.get("DestinationSecurityGroupId") or rule.get("DestinationPrefixListId")
                ports = f"{rule.get('FromPort', 'all')}-{rule.get('ToPort', 'all')}"
                rules.append([stack.name, logical_id, direction, rule.get("IpProtocol"), ports, peer])
    for stack, logical_id, rule in _resources(
        stacks, "AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"
    ):
        p = _props(rule)
        direction = "ingress" if rule["Type"].endswith("Ingress") else "egress"
        peer = (
            p.get("CidrIp")
            or p.get("CidrIpv6")
            or p.get("SourceSecurityGroupId")
            or p.get("DestinationSecurityGroupId")
            or p.get("SourcePrefixListId")
            or p.get("DestinationPrefixListId")
        )
        ports = f"{p.get('FromPort', 'all')}-{p.get('ToPort', 'all')}"
        rules.append(
            [stack.name, f"{logical_id} (group {_cell(p.get('GroupId'))})", direction, p.get("IpProtocol"), ports, peer]
        )
    nacl = [
        [
            s.name,
            lid,
            "egress" if _props(r).get("Egress") else "ingress",
            _props(r).get("RuleNumber"),
            _props(r).get("RuleAction"),
            _props(r).get("Protocol"),
            _props(r).get("PortRange", "all"),
            _props(r).get("CidrBlock") or _props(r).get("Ipv6CidrBlock"),
        ]
        for s, lid, r in _resources(stacks, "AWS::EC2::NetworkAclEntry")
    ]
    routes = [
        [s.name, lid, _props(r).get("DestinationCidrBlock"), _props(r).get("TransitGatewayId")]
        for s, lid, r in _resources(stacks, "AWS::EC2::Route")
        if "TransitGatewayId" in _props(r)
    ]
    endpoints = [
        [
            s.name,
            lid,
            _props(r).get("ServiceName"),
            _props(r).get("VpcEndpointType", "Gateway"),
            _props(r).get("PrivateDnsEnabled", ""),
        ]
        for s, lid, r in _resources(stacks, "AWS::EC2::VPCEndpoint")
    ]
    lines = ["## Network exposure", "", "### Security-group rules", ""]
    lines += _table(["stack", "resource", "direction", "protocol", "ports", "peer"], rules)
    lines += ["", "### Network ACL entries", ""]
    lines += _table(["stack", "entry", "direction", "rule", "action", "protocol", "ports", "CIDR"], nacl)
    lines += ["", "### Routes to the Transit Gateway", ""]
    lines += _table(["stack", "route", "destination", "transit gateway"], routes)
    lines += ["", "### VPC endpoints", ""]
    lines += _table(["stack", "endpoint", "service", "type", "private DNS"], endpoints)
    return lines


def _statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in as_list(policy.get("Statement", [])) if isinstance(s, Mapping)]


def _wildcards(statement: Mapping[str, Any]) -> list[str]:
    found = [f"action {a}" for a in as_list(statement.get("Action", [])) if isinstance(a, str) and "*" in a]
    found += [f"resource {_cell(r)}" for r in as_list(statement.get("Resource", [])) if "*" in _cell(r)]
    return found


def section_hosts(stacks: list[StackArtifact]) -> list[str]:
    """Every EC2 host with what a reviewer checks first: image, hardening, volumes, patch wave, backup."""
    attached: dict[tuple[str, str], list[str]] = {}
    for stack, _, attachment in _resources(stacks, "AWS::EC2::VolumeAttachment"):
        instance, volume = _props(attachment).get("InstanceId"), _props(attachment).get("VolumeId")
        if isinstance(instance, Mapping) and isinstance(volume, Mapping):
            size = _props(stack.resources.get(str(volume.get("Ref")), {})).get("Size")
            attached.setdefault((stack.name, str(instance.get("Ref"))), []).append(f"{volume.get('Ref')} {size} GiB")
    rows = []
    for stack, logical_id, instance in _resources(stacks, "AWS::EC2::Instance"):
        p = _props(instance)
        tags = {t.get("Key"): t.get("Value") for t in as_list(p.get("Tags", [])) if isinstance(t, Mapping)}
        metadata = p.get("MetadataOptions", {})
        root = [m.get("Ebs", {}) for m in as_list(p.get("BlockDeviceMappings", [])) if isinstance(m, Mapping)]
        rows.append(
            [
                stack.name,
                logical_id,
                tags.get("Role"),
                p.get("InstanceType"),
                p.get("ImageId"),
                tags.get("Image"),
                f"IMDSv2 {metadata.get('HttpTokens')}, hop {metadata.get('HttpPutResponseHopLimit')}",
                "yes" if p.get("DisableApiTermination") is True else "no",
                ", ".join(f"{e.get('VolumeSize')} GiB{' encrypted' if e.get('Encrypted') else ''}" for e in root),
                "; ".join(attached.get((stack.name, logical_id), [])) or "-",
                tags.get("PatchWave"),
                tags.get("Backup"),
            ]
        )
    header = ["stack", "host", "role", "type", "launched from", "should run", "metadata", "termination protection"]
    header += ["root", "data volumes"]
    return ["## Hosts", "", *_table([*header, "patch wave", "backup tag"], rows), ""]


def section_iam(stacks: list[StackArtifact]) -> list[str]:
    role_rows = []
    policies: dict[tuple[str, str], list[tuple[str, Mapping[str, Any]]]] = defaultdict(list)
    for stack, logical_id, role in _resources(stacks, "AWS::IAM::Role"):
        trust = [_cell(s.get("Principal")) for s in _statements(_props(role).get("AssumeRolePolicyDocument", {}))]
        managed = [_cell(m) for m in as_list(_props(role).get("ManagedPolicyArns", []))]
        role_rows.append([stack.name, logical_id, "; ".join(trust), ", ".join(managed) or "-"])
        for inline in as_list(_props(role).get("Policies", [])):
            policies[(stack.name, logical_id)].append(
                (f"inline {inline.get('PolicyName')}", inline.get("PolicyDocument", {}))
            )
    for stack, logical_id, policy in _resources(stacks, "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for role in as_list(_props(policy).get("Roles", [])):
            target = role.get("Ref") if isinstance(role, Mapping) else str(role)
            policies[(stack.name, str(target))].append((logical_id, _props(policy).get("PolicyDocument", {})))
    statement_rows, wildcard_rows = [], []
    for (stack_name, role_id), docs in sorted(policies.items()):
        for policy_name, doc in docs:
            for statement in _statements(doc):
                row = [
                    stack_name,
                    role_id,
                    policy_name,
                    statement.get("Effect"),
                    statement.get("Action"),
                    statement.get("Resource"),
                ]
                statement_rows.append(row)
                for wildcard in _wildcards(statement):
                    wildcard_rows.append([stack_name, role_id, policy_name, wildcard])
    lines = ["## IAM", "", "### Roles", ""]
    lines += _table(["stack", "role", "trusted principal", "AWS managed policies"], role_rows)
    lines += ["", "### Permissions of each role", ""]
    lines += _table(["stack", "role", "policy", "effect", "actions", "resources"], statement_rows)
    lines += ["", "### Every wildcard", ""]
    lines += _table(["stack", "role", "policy", "wildcard"], wildcard_rows)
    return lines


ENCRYPTION_OF: dict[str, Any] = {
    "AWS::S3::Bucket": lambda p: (
        p.get("BucketEncryption", {})
        .get("ServerSideEncryptionConfiguration", [{}])[0]
        .get("ServerSideEncryptionByDefault", {})
    ),
    "AWS::Logs::LogGroup": lambda p: p.get("KmsKeyId"),
    "AWS::SNS::Topic": lambda p: p.get("KmsMasterKeyId"),
    "AWS::SQS::Queue": lambda p: p.get("KmsMasterKeyId") or ("SQS managed" if p.get("SqsManagedSseEnabled") else None),
    "AWS::EC2::Volume": lambda p: p.get("KmsKeyId") or ("account default key" if p.get("Encrypted") else None),
    "AWS::CloudTrail::Trail": lambda p: p.get("KMSKeyId"),
    "AWS::Backup::BackupVault": lambda p: p.get("EncryptionKeyArn"),
    "AWS::DynamoDB::Table": lambda p: p.get("SSESpecification"),
    "AWS::Kinesis::Stream": lambda p: p.get("StreamEncryption"),
}


def _key_name(value: Any, aliases: Mapping[str, str]) -> str:
    if isinstance(value, Mapping) and "SSEAlgorithm" in value:
        algorithm = value["SSEAlgorithm"]
        if algorithm == "AES256":
            return "SSE-S3 (AWS-owned key)"
        return f"{algorithm} {_key_name(value.get('KMSMasterKeyID'), aliases)}"
    if isinstance(value, Mapping):
        target = value.get("Ref") or (value.get("Fn::GetAtt") or [None])[0]
        if isinstance(target, str):
            return f"`{target}`" + (f" ({aliases[target]})" if target in aliases else "")
    return "**none**" if value in (None, {}) else _cell(value)


def section_encryption(stacks: list[StackArtifact]) -> list[str]:
    rows = []
    for stack in stacks:
        aliases: dict[str, str] = {}
        for resource in stack.resources.values():
            if resource.get("Type") == "AWS::KMS::Alias":
                target = _props(resource).get("TargetKeyId", {})
                key = (
                    target.get("Ref") or (target.get("Fn::GetAtt") or [None])[0]
                    if isinstance(target, Mapping)
                    else None
                )
                if key:
                    aliases[key] = str(_props(resource).get("AliasName"))
        for logical_id, resource in stack.resources.items():
            extract = ENCRYPTION_OF.get(resource.get("Type", ""))
            if extract:
                rows.append([stack.name, logical_id, resource["Type"], _key_name(extract(_props(resource)), aliases)])
    lines = ["## Encryption", "", "Every data store and the key that protects it.", ""]
    return lines + _table(["stack", "resource", "type", "key"], rows)


def section_stateful(stacks: list[StackArtifact]) -> list[str]:
    types = (*STATEFUL_TYPES, "AWS::EC2::Instance")
    rows = [
        [
            s.name,
            lid,
            r["Type"],
            r.get("DeletionPolicy", "Delete (default)"),
            r.get("UpdateReplacePolicy", "Delete (default)"),
        ]
        for s, lid, r in _resources(stacks, *types)
    ]
    return ["## Stateful resources", "", *_table(["stack", "resource", "type", "on delete", "on replace"], rows)]


def acknowledgements(stacks: list[StackArtifact]) -> list[tuple[str, str, str, str]]:
    """(stack, resource, rule, reason) for every acknowledgement written into the templates."""
    out = []
    for stack in stacks:
        sources = [("(stack)", stack.template.get("Metadata", {}))]
        sources += [(lid, r.get("Metadata", {})) for lid, r in stack.resources.items()]
        for logical_id, metadata in sources:
            for ack in metadata.get("cdk_nag", {}).get("rules_to_suppress", []):
                out.append((stack.name, logical_id, ack["id"], ack.get("reason", "")))
            for ack in as_list(metadata.get("govcloud", {}).get("rules_acknowledged", [])):
                for entry in as_list(ack):
                    out.append((stack.name, logical_id, f"GovCloud::{entry['id']}", entry.get("reason", "")))
    return out


def section_acknowledgements(stacks: list[StackArtifact]) -> list[str]:
    rows = [list(a) for a in acknowledgements(stacks)]
    lines = ["## Acknowledgements", "", f"{len(rows)} acknowledged findings, each one rule on one resource.", ""]
    return lines + _table(["stack", "resource", "rule", "reason"], rows)


def section_compliance(assembly: Assembly, stacks: list[StackArtifact]) -> list[str]:
    lines = ["## Compliance summary", ""]
    report = assembly.validation_report
    if report is None:
        lines.append("**No validation-report.json in this assembly**: it was not synthesized by this project's app.")
    else:
        failed = [
            (p.get("pluginName"), v.get("ruleName"), len(v.get("violatingConstructs", [])))
            for p in report.get("pluginReports", [])
            for v in p.get("violations", [])
        ]
        if failed:
            lines.append(f"**{len(failed)} rules with unacknowledged findings** (the synth failed):")
            lines += ["", *_table(["pack", "rule", "resources"], ([p, r, n] for p, r, n in failed))]
        else:
            lines.append("validation-report.json: no unacknowledged findings from any pack.")
    by_pack: Counter[str] = Counter()
    by_rule: Counter[str] = Counter()
    for _, _, rule, _ in acknowledgements(stacks):
        pack = rule.split("::")[0] if "::" in rule else rule.split("-")[0]
        by_pack[pack] += 1
        by_rule[rule] += 1
    lines += [
        "",
        "Packs run on every synth: AwsSolutions, NIST.800.53.R5, GovCloud (rules below), CloudFormation Validate.",
        "",
    ]
    lines += _table(["pack", "acknowledged findings"], ([p, n] for p, n in sorted(by_pack.items())))
    lines += ["", "### Acknowledged findings by rule", ""]
    lines += _table(["rule", "count"], ([r, n] for r, n in sorted(by_rule.items())))
    lines += ["", "### Government Cloud rules", ""]
    lines += _table(["id", "rule", "control"], ([r.id, r.info, r.control] for r in RULES))
    return lines


def render(assembly: Assembly, stage: str) -> str:
    stacks = assembly.of_stage(stage)
    resources = sum(len(s.resources) for s in stacks)
    lines = [
        f"# Review report: {stage}",
        "",
        f"{len(stacks)} stacks, {resources} resources, read from `{assembly.root}`.",
        "",
    ]
    for section in (
        section_compliance(assembly, stacks),
        section_stacks(stacks),
        section_network(stacks),
        section_hosts(stacks),
        section_iam(stacks),
        section_encryption(stacks),
        section_stateful(stacks),
        section_acknowledgements(stacks),
    ):
        lines += [*section, ""]
    return "\n".join(lines)
