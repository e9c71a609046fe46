"""The review report: what a reviewer needs to see of one environment's templates, as Markdown."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from govcloud.compliance.rules import RULES, STATEFUL_TYPES, as_list
from govcloud.review import text
from govcloud.review.assembly import Assembly, StackArtifact

NONE = "_None in this environment._"


def _cell(value: Any) -> str:
    """A template value as short, table-safe text: Refs and GetAtts become their logical IDs."""
    return text.cell(value)


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
                rules.append([stack.name, logical_id, direction, *_rule_cells(rule)])
    for stack, logical_id, rule in _resources(
        stacks, "AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"
    ):
        p = _props(rule)
        direction = "ingress" if rule["Type"].endswith("Ingress") else "egress"
        group_id = _cell(p.get("GroupId")).replace(".GroupId`", "`")
        rules.append([stack.name, f"{logical_id} (group {group_id})", direction, *_rule_cells(p)])
    nacl = [
        [
            s.name,
            lid,
            "egress" if _props(r).get("Egress") else "ingress",
            _props(r).get("RuleNumber"),
            _props(r).get("RuleAction"),
            text.protocol(_props(r).get("Protocol")),
            text.ports(_props(r)),
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


def _rule_cells(rule: Mapping[str, Any]) -> list[str]:
    """Protocol, ports and peer of a security-group rule; CDK's rule that allows no egress said as such."""
    if text.is_no_egress_placeholder(rule):
        return [
            "none",
            "-",
            "no egress at all (CDK's placeholder rule icmp 252-86 to 255.255.255.255/32 matches no packet)",
        ]
    return [text.protocol(rule.get("IpProtocol")), text.ports(rule), text.peer(rule)]


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
        trust = [
            text.principal(s.get("Principal")) + (f" (when {text.conditions(s)})" if text.conditions(s) else "")
            for s in _statements(_props(role).get("AssumeRolePolicyDocument", {}))
        ]
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


def key_name(value: Any, aliases: Mapping[str, str]) -> str:
    if isinstance(value, Mapping) and "SSEAlgorithm" in value:
        algorithm = value["SSEAlgorithm"]
        if algorithm == "AES256":
            return "SSE-S3 (AWS-owned key)"
        return f"{algorithm} {key_name(value.get('KMSMasterKeyID'), aliases)}"
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
                rows.append([stack.name, logical_id, resource["Type"], key_name(extract(_props(resource)), aliases)])
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


def pack_of(rule: str) -> str:
    """The pack of an acknowledged rule ID: ``GovCloud::GC-S3-1``, ``AwsSolutions-IAM5[Resource::*]``,
    ``NIST.800.53.R5-IAMNoInlinePolicy`` (a finding's ``[...]`` may itself hold ``::``)."""
    if rule.startswith("GovCloud::"):
        return "GovCloud"
    return rule.split("[", maxsplit=1)[0].split("-", maxsplit=1)[0]


def section_acknowledgements(stacks: list[StackArtifact]) -> list[str]:
    rows = [list(a) for a in acknowledgements(stacks)]
    lines = ["## Acknowledgements", "", f"{len(rows)} acknowledged findings, each one rule on one resource.", ""]
    return lines + _table(["stack", "resource", "rule", "reason"], rows)


def section_compliance(assembly: Assembly, stacks: list[StackArtifact], lang: str = "en") -> list[str]:
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
        by_pack[pack_of(rule)] += 1
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
    lines += _table(
        ["id", "rule", "control"], ([r.id, r.info_ja if lang == "ja" else r.info, r.control] for r in RULES)
    )
    return lines


STACK_SECTIONS = (section_network, section_hosts, section_iam, section_encryption, section_stateful)


def _per_stack(lines: list[str]) -> list[str]:
    """A section of one stack: headings one level down, the stack column dropped, empty tables left out."""
    out: list[str] = []
    in_stack_table = False
    for line in lines:
        if line.startswith("| stack |"):
            in_stack_table = True
        elif not line.startswith("|"):
            in_stack_table = False
        if line.startswith("#"):
            out.append("#" + line)
        elif in_stack_table and line.startswith("|---"):
            out.append(line.replace(" --- |", "", 1))
        elif in_stack_table:
            out.append(re.sub(r"^\| [^|]*? \| ", "| ", line, count=1))
        elif line == NONE and out and out[-1] == "" and len(out) > 1 and out[-2].startswith("#"):
            del out[-2:]
        else:
            out.append(line)
    return out


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation other than - and _ removed, spaces as -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def stack_section(stack: StackArtifact) -> list[str]:
    lines = [f"## Stack {stack.name}", "", f"{stack.description or '-'} ({len(stack.resources)} resources)", ""]
    for section in (*STACK_SECTIONS, section_acknowledgements):
        body = _per_stack(section([stack]))
        if any(line.startswith("|") for line in body):
            lines += [*body, ""]
    return [line for i, line in enumerate(lines) if line or (i and lines[i - 1])]


def _head(assembly: Assembly, stage: str) -> list[str]:
    stacks = assembly.of_stage(stage)
    resources = sum(len(s.resources) for s in stacks)
    return [
        f"# Review report: {stage}",
        "",
        f"{len(stacks)} stacks, {resources} resources, read from `{assembly.root}`.",
        "",
    ]


def render(assembly: Assembly, stage: str, lang: str = "en") -> str:
    """The whole report of one environment in one document: a table of contents, the environment's summary
    sections, then one section per stack."""
    stacks = assembly.of_stage(stage)
    summary = [*section_compliance(assembly, stacks, lang), "", *section_stacks(stacks), ""]
    per_stack = [line for stack in stacks for line in stack_section(stack)]
    toc = ["## Contents", ""]
    for line in [*summary, *per_stack]:
        if line.startswith("## "):
            title = translate([line], lang)[0][3:]
            toc.append(f"- [{title}](#{_anchor(title)})")
    return "\n".join(translate([*_head(assembly, stage), *toc, "", *summary, *per_stack], lang))


def index_name(stage: str, lang: str = "en") -> str:
    return f"review-{stage}{'' if lang == 'en' else '.' + lang}.md"


def files(assembly: Assembly, stage: str, lang: str = "en") -> dict[str, str]:
    """The report split for reading and for artifacts: an index (summary, compliance, stacks, a link to each
    stack's file) and one file per stack."""
    stacks = assembly.of_stage(stage)
    suffix = "" if lang == "en" else f".{lang}"
    out = {}
    links = ["## Contents", ""]
    for stack in stacks:
        name = f"review-{stage}/{stack.name}{suffix}.md"
        out[name] = "\n".join(translate([f"# {stage}", "", *stack_section(stack)], lang)) + "\n"
        links.append(f"- [{stack.name}]({name})")
    summary = [*section_compliance(assembly, stacks, lang), "", *section_stacks(stacks), ""]
    out[index_name(stage, lang)] = "\n".join(translate([*_head(assembly, stage), *links, "", *summary], lang)) + "\n"
    return out


JA = {
    "Contents": "目次",
    "Review report": "レビューレポート",
    "Compliance summary": "コンプライアンスの概要",
    "Stacks": "スタック",
    "Resources by type": "種類別のリソース数",
    "Network exposure": "ネットワークの公開範囲",
    "Security-group rules": "セキュリティグループのルール",
    "Network ACL entries": "ネットワーク ACL のエントリ",
    "Routes to the Transit Gateway": "Transit Gateway へのルート",
    "VPC endpoints": "VPC エンドポイント",
    "Hosts": "ホスト",
    "IAM": "IAM",
    "Roles": "ロール",
    "Permissions of each role": "各ロールの権限",
    "Every wildcard": "すべてのワイルドカード",
    "Encryption": "暗号化",
    "Stateful resources": "ステートフルなリソース",
    "Acknowledgements": "承認済みの指摘",
    "Acknowledged findings by rule": "ルール別の承認済みの指摘",
    "Government Cloud rules": "ガバメントクラウドのルール",
    "Stack": "スタック",
    # table headers
    "stack": "スタック",
    "account": "アカウント",
    "region": "リージョン",
    "termination protection": "削除保護",
    "resources": "リソース数",
    "description": "説明",
    "type": "種類",
    "count": "件数",
    "resource": "リソース",
    "direction": "方向",
    "protocol": "プロトコル",
    "ports": "ポート",
    "peer": "相手",
    "entry": "エントリ",
    "rule": "ルール",
    "action": "動作",
    "CIDR": "CIDR",
    "route": "ルート",
    "destination": "宛先",
    "transit gateway": "Transit Gateway",
    "endpoint": "エンドポイント",
    "service": "サービス",
    "private DNS": "プライベート DNS",
    "host": "ホスト",
    "role": "ロール",
    "launched from": "起動元イメージ",
    "should run": "あるべきイメージ",
    "metadata": "メタデータ",
    "root": "ルートボリューム",
    "data volumes": "データボリューム",
    "patch wave": "パッチ適用の波",
    "backup tag": "バックアップタグ",
    "trusted principal": "信頼するプリンシパル",
    "AWS managed policies": "AWS 管理ポリシー",
    "policy": "ポリシー",
    "effect": "効果",
    "actions": "アクション",
    "wildcard": "ワイルドカード",
    "key": "キー",
    "on delete": "削除時",
    "on replace": "置換時",
    "reason": "理由",
    "pack": "パック",
    "acknowledged findings": "承認済みの指摘",
    "id": "ID",
    "control": "管理策",
}
JA_SENTENCES = (
    (r"^(\d+) stacks, (\d+) resources, read from (.*)\.$", r"\1 スタック、\2 リソース（\3 から読み込み）。"),
    (
        r"^(\d+) acknowledged findings, each one rule on one resource\.$",
        r"承認済みの指摘 \1 件（各 1 ルール・1 リソース）。",
    ),
    (r"^Every data store and the key that protects it\.$", "すべてのデータストアと、それを保護するキー。"),
    (
        r"^validation-report\.json: no unacknowledged findings from any pack\.$",
        "validation-report.json: どのパックにも未承認の指摘はない。",
    ),
    (r"^Packs run on every synth: (.*)\.$", r"すべての synth で実行するパック: \1。"),
    (
        r"^\*\*(\d+) rules with unacknowledged findings\*\* \(the synth failed\):$",
        r"**未承認の指摘があるルール \1 件**（synth は失敗した）:",
    ),
    (
        r"^\*\*No validation-report\.json in this assembly\*\*: (.*)$",
        r"**このアセンブリに validation-report.json がない**（このプロジェクトのアプリで synth されていない）",
    ),
    (r"^_None in this environment\._$", "_この環境にはない。_"),
    (r"^(.*) \((\d+) resources\)$", r"\1（\2 リソース）"),
)


def translate(lines: list[str], lang: str) -> list[str]:
    """The report's headings, table headers and fixed sentences in ``lang`` (names from the templates stay)."""
    if lang == "en":
        return lines
    out = []
    for index, original in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        line = original
        if line.startswith("#"):
            hashes, title = line.split(" ", 1)
            for english, japanese in sorted(JA.items(), key=lambda kv: -len(kv[0])):
                if title == english or title.startswith((english + " ", english + ":")):
                    title = japanese + title[len(english) :]
                    break
            line = f"{hashes} {title}"
        elif line.startswith("| ") and following.startswith("|") and "---" in following:
            cells = [c.strip() for c in line.strip("|").split("|")]
            line = "| " + " | ".join(JA.get(c, c) for c in cells) + " |"
        else:
            for pattern, replacement in JA_SENTENCES:
                line = re.sub(pattern, replacement, line)
        out.append(line)
    return out
