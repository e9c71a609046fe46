"""The Government Cloud rule pack: the landing zone's own promises, checked on synthesized templates.

Pure functions over template JSON, with no CDK import: the synth-time plugin (``plugin.py``) and the review
tools both call :func:`evaluate`. Each rule has an id, a one-line info, an explanation and the control it serves.
``docs/RULES.md`` is generated from :data:`RULES` (``python -m govcloud.compliance.catalogue``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from govcloud.compliance import transit

PACK_NAME = "GovCloud"

Template = Mapping[str, Any]
Resource = Mapping[str, Any]


@dataclass(frozen=True)
class Settings:
    """What the rules need from the environment's config."""

    production: bool
    environment: str
    municipality: str
    min_log_retention_days: int
    allowed_ingress_cidrs: tuple[str, ...] = ()
    allowed_regions: tuple[str, ...] = ("ap-northeast-1", "ap-northeast-3")
    classifications: tuple[str, ...] = ("internal", "confidential", "restricted")
    managed_by: str = "cdk"
    allowed_segment_pairs: tuple[tuple[str, str], ...] = ()
    closed_segments: tuple[str, ...] = ("mynumber",)
    """Segments that must never reach a VPN (it rides the internet) nor any other segment."""


@dataclass(frozen=True)
class Stack:
    """One synthesized stack as the rules see it."""

    name: str
    region: str
    template: Template
    termination_protection: bool = False
    stack_name: str = ""
    """The CloudFormation stack name (``KobeStg-NetworkHub``), by which other stacks read its outputs."""


@dataclass(frozen=True)
class Finding:
    rule: str
    logical_id: str | None
    """None for findings about the stack itself."""
    detail: str
    path: str = "Properties"


@dataclass(frozen=True)
class Rule:
    id: str
    info: str
    explanation: str
    control: str
    check: Callable[[Stack, Settings], Iterator[tuple[str | None, str]]] | None = field(repr=False)
    info_ja: str = ""
    """The rule in Japanese, for docs/ja/RULES.md (a test requires it of every rule)."""
    explanation_ja: str = ""
    stage_check: Callable[[list[Stack], Settings], Iterator[tuple[str, str | None, str]]] | None = field(
        default=None, repr=False
    )
    """A rule over all stacks of one environment at once (findings name their stack), instead of ``check``."""


# ----- helpers -----

STATEFUL_TYPES = (
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
    "AWS::Logs::LogGroup",
    "AWS::EC2::Volume",
    "AWS::Backup::BackupVault",
    "AWS::Backup::LogicallyAirGappedBackupVault",
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBCluster",
    "AWS::EFS::FileSystem",
    "AWS::Glue::Database",
)
MUST_BE_TAGGED = (
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
    "AWS::Logs::LogGroup",
    "AWS::EC2::Instance",
    "AWS::EC2::Volume",
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::EC2::SecurityGroup",
    "AWS::Lambda::Function",
    "AWS::IAM::Role",
    "AWS::SNS::Topic",
    "AWS::SQS::Queue",
)
OPEN_CIDRS = ("0.0.0.0/0", "::/0")
LOG_DELIVERY_PRINCIPALS = ("logging.s3.amazonaws.com", "logdelivery.elasticloadbalancing.amazonaws.com")
ELB_ACCOUNT_PRINCIPALS = ("582318560864", "383597477331")  # ELB log delivery accounts, Tokyo and Osaka


def resources(stack: Stack, *types: str) -> Iterator[tuple[str, Resource]]:
    for logical_id, resource in stack.template.get("Resources", {}).items():
        if not types or resource.get("Type") in types:
            yield logical_id, resource


def props(resource: Resource) -> Mapping[str, Any]:
    value = resource.get("Properties", {})
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def refers_to(value: Any, logical_id: str) -> bool:
    """Whether a property value is a Ref or GetAtt of ``logical_id`` (or contains one)."""
    if isinstance(value, Mapping):
        if value.get("Ref") == logical_id:
            return True
        get_att = value.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att and get_att[0] == logical_id:
            return True
        return any(refers_to(v, logical_id) for v in value.values())
    if isinstance(value, list):
        return any(refers_to(v, logical_id) for v in value)
    return False


def bucket_policy_statements(stack: Stack, bucket_id: str) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for _, policy in resources(stack, "AWS::S3::BucketPolicy"):
        if refers_to(props(policy).get("Bucket"), bucket_id):
            out.extend(as_list(props(policy).get("PolicyDocument", {}).get("Statement", [])))
    return out


def principal_values(statement: Mapping[str, Any]) -> list[str]:
    principal = statement.get("Principal", {})
    if isinstance(principal, str):
        return [principal]
    values: list[str] = []
    for value in principal.values():
        values.extend(str(v) for v in as_list(value))
    return values


def is_log_target_bucket(stack: Stack, bucket_id: str) -> bool:
    """A bucket that S3 server access logs or ELB access logs are delivered to (they require SSE-S3)."""
    for statement in bucket_policy_statements(stack, bucket_id):
        if statement.get("Effect") != "Allow":
            continue
        for principal in principal_values(statement):
            if principal in LOG_DELIVERY_PRINCIPALS or any(acct in principal for acct in ELB_ACCOUNT_PRINCIPALS):
                return True
    return False


def tags_of(resource: Resource) -> dict[str, Any] | None:
    tags = props(resource).get("Tags")
    if tags is None:
        return None
    if isinstance(tags, Mapping):
        return dict(tags)
    return {str(t.get("Key")): t.get("Value") for t in tags if isinstance(t, Mapping)}


def within(cidr: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``cidr`` lies inside the union of ``allowed`` (a supernet of two adjacent configured networks does)."""
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
    candidates = (ipaddress.ip_network(entry, strict=False) for entry in allowed)
    same_version = [n for n in candidates if n.version == network.version]
    merged = ipaddress.collapse_addresses(same_version)  # type: ignore[type-var]
    return any(network.subnet_of(m) for m in merged)  # type: ignore[arg-type]


def ingress_rules(stack: Stack) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every security-group ingress rule: inline ones and AWS::EC2::SecurityGroupIngress resources."""
    for logical_id, group in resources(stack, "AWS::EC2::SecurityGroup"):
        for rule in as_list(props(group).get("SecurityGroupIngress", [])):
            if isinstance(rule, Mapping):
                yield logical_id, rule
    for logical_id, rule in resources(stack, "AWS::EC2::SecurityGroupIngress"):
        yield logical_id, props(rule)


def launch_template_data(stack: Stack, instance: Resource) -> Mapping[str, Any]:
    ref = props(instance).get("LaunchTemplate", {})
    for key in ("LaunchTemplateId", "LaunchTemplateName"):
        value = ref.get(key) if isinstance(ref, Mapping) else None
        for logical_id, template in resources(stack, "AWS::EC2::LaunchTemplate"):
            if refers_to(value, logical_id):
                data = props(template).get("LaunchTemplateData", {})
                return data if isinstance(data, Mapping) else {}
    return {}


# ----- checks: each yields (logical id or None, detail) -----


def check_region(stack: Stack, s: Settings) -> Iterator[tuple[str | None, str]]:
    if stack.region not in s.allowed_regions:
        yield None, f"stack {stack.name} is placed in {stack.region}; allowed: {', '.join(s.allowed_regions)}"


def check_internet_gateways(stack: Stack, s: Settings) -> Iterator[tuple[str | None, str]]:
    forbidden = (
        "AWS::EC2::InternetGateway",
        "AWS::EC2::EgressOnlyInternetGateway",
        "AWS::EC2::NatGateway",
        "AWS::EC2::EIP",
        "AWS::EC2::CarrierGateway",
    )
    for logical_id, resource in resources(stack, *forbidden):
        yield logical_id, f"{resource['Type']} opens a path to the internet"
    for logical_id, attachment in resources(stack, "AWS::EC2::VPCGatewayAttachment"):
        if "InternetGatewayId" in props(attachment):
            yield logical_id, "attaches an internet gateway"


def check_public_ips(stack: Stack, s: Settings) -> Iterator[tuple[str | None, str]]:
    for logical_id, subnet in resources(stack, "AWS::EC2::Subnet"):
        if props(subnet).get("MapPublicIpOnLaunch") is True:
            yield logical_id, "subnet maps public IPs on launch (a public subnet)"
    for logical_id, resource in resources(stack, "AWS::EC2::Instance", "AWS::EC2::LaunchTemplate"):
        p = props(resource)
        data = p.get("LaunchTemplateData", p) if resource["Type"] == "AWS::EC2::LaunchTemplate" else p
        for nic in as_list(data.get("NetworkInterfaces", [])):
            if isinstance(nic, Mapping) and nic.get("AssociatePublicIpAddress") is True:
                yield logical_id, "network interface associates a public IP address"


def check_open_ingress(stack: Stack, s: Settings) -> Iterator[tuple[str | None, str]]:
    for logical_id, rule in ingress_rules(stack):
        for key in ("CidrIp", "CidrIpv6"):
            if rule.get(key) in OPEN_CIDRS:
                yield logical_id, f"security-group ingress from {rule[key]}"
    for logical_id, entry in resources(stack, "AWS::EC2::NetworkAclEntry"):
        p = props(entry)
        if p.get("Egress") is not True and p.get("RuleAction") == "allow":
            for key in ("CidrBlock", "Ipv6CidrBlock"):
                if p.get(key) in OPEN_CIDRS:
                    yield logical_id, f"network ACL allows inbound traffic from {p[key]}"


def check_ingress_sources(stack: Stack, s: Settings) -> Iterator[tuple[str | None, str]]:
    for logical_id, rule in ingress_rules(stack):
        if "SourceSecurityGroupId" in rule or "SourcePrefixListId" in rule:
            continue
        cidr = rule.get("CidrIp", rule.get("CidrIpv6"))
        if cidr is None:
            yield logical_id, "ingress rule without a source CIDR or security group"
        elif not isinstance(cidr, str):
            yield logical_id, "ingress CIDR is not a literal; take CIDRs from config"
        elif cidr not in OPEN_CIDRS and not within(cidr, s.allowed_ingress_cidrs):
            yield logical_id, f"ingress from {cidr}, which is not inside a configured network"


def check_bucket_versioned(stack: Stack, s: Settings) -> Iterator[tuple[str | None, str]]:
    for logical_id, bucket in resources(stack, "AWS::S3::Bucket"):
        if props(bucket).get("VersioningConfiguration", {}).get("Status") != "Enabled":
            yield logical_id, "versioning is not enabled"


def _denies_plain_http(statement: Mapping[str, Any]) -> bool:
    condition = statement.get("Condition", {})
    secure = condition.get("Bool", {}).get("aws:SecureTransport") if isinstance(condition, Mapping) else None
    actions = as_list(statement.get("Action", []))
    return (
        statement.get("Effect") == "Deny"
        and str(secure).lower() == "false"
        and any(a in ("s3:*", "*") for a in actions)
        and "*" in principal_values(statement)
    )


def check_bucket_tls_only(stack: Stack, s: Settings) -> Iterator[tuple[str | None, str]]:
    for logical_id, _ in resources(stack, "AWS::S3::Bucket"):
        if not any(_denies_plain_http(st) for st in bucket_policy_statements(stack, logical_id)):
            yield logical_id, "no bucket-policy statement denies requests without TLS (aws:SecureTransport)"


def check_bucket_public_access(stack: Stack, s: Settings) -> Iterator[tuple[str | None, str]]:
    flags = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    for logical_id, bucket in resources(stack, "AWS::S3::Bucket"):
        block = props(bucket).get("PublicAccessBlockConfiguration", {})
        missing = [f for f in flags if block.get(f) is not True]
        if missing:
            yield logical_id, f"public access block incomplete: {', '.join(missing)} not true"


def check_bucket_kms(stack: Stack, s: Settings) -> Iterator[tuple[str | None, str]]:
    for logical_id, bucket in resources(stack, "AWS::S3::Bucket"):
        rules = props(bucket).get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        default = rules[0].get("ServerSideEncryptionByDefault", {}) if rules else {}
        algorithm = default.get("SSEAlgorithm")
        key = default.get("KMSMasterKeyID")
        if algorithm in ("aws:kms", "aws:kms:dsse") and key is not None and "alias/aws/" not in str(key):
            continue
        if algorithm == "AES256" and is_log_target_bucket(stack, logical_id):
            continue  # S3 server access logs and ELB access logs accept SSE-S3 only
        yield logical_id, f"not encrypted with a customer-managed KMS key (SSEAlgorithm {algorithm})"


def check_log_groups(stack: Stack, s: Settings) -> Iterator[tuple[str | None, str]]:
    for logical_id, group in resources(stack, "AWS::Logs::LogGroup"):
        p = props(group)
        if "KmsKeyId" not in p:
            yield logical_id, "log group is not encrypted with a KMS key"
        retention = p.get("RetentionInDays")
        if not isinstance(retention, int) or retention < s.min_log_retention_days:
            yield logical_id, f"retention {retention} days is below the configured {s.min_log_retention_days}"


def check_imdsv2(stack: Stack, s: Settings) -> Iterator[tuple[str | None, str]]:
    for logical_id, instance in resources(stack, "AWS::EC2::Instance"):
        options = props(instance).get("MetadataOptions") or launch_template_data(stack, instance).get(
            "MetadataOptions", {}
        )
        if options.get("HttpTokens") != "required":
            yield (
                logical_id,
                "instance does not require IMDSv2 (MetadataOptions.HttpTokens of the instance or its template)",
            )
        elif options.get("HttpPutResponseHopLimit", 1) != 1:
            yield logical_id, "IMDS hop limit above 1 lets containers on the host reach the instance's credentials"


def check_no_key_pair(stack: Stack, s: Settings) -> Iterator[tuple[str | None, str]]:
    for logical_id, instance in resources(stack, "AWS::EC2::Instance"):
        if "KeyName" in props(instance) or "KeyName" in launch_template_data(stack, instance):
            yield logical_id, "instance has a key pair; use Session Manager"


def check_encrypted_volumes(stack: Stack, s: Settings) -> Iterator[tuple[str | None, str]]:
    for logical_id, instance in resources(stack, "AWS::EC2::Instance"):
        mappings = as_list(props(instance).get("BlockDeviceMappings", [])) + as_list(
            launch_template_data(stack, instance).get("BlockDeviceMappings", [])
        )
        ebs = [m.get("Ebs", {}) for m in mappings if isinstance(m, Mapping) and "Ebs" in m]
        if not ebs or not all(e.get("Encrypted") is True for e in ebs):
            yield logical_id, "instance volumes are not all explicitly encrypted"
    for logical_id, volume in resources(stack, "AWS::EC2::Volume"):
        if props(volume).get("Encrypted") is not True:
            yield logical_id, "volume is not encrypted"


def check_instance_termination_protection(stack: Stack, s: Settings) -> Iterator[tuple[str | None, str]]:
    if not s.production:
        return
    for logical_id, instance in resources(stack, "AWS::EC2::Instance"):
        if props(instance).get("DisableApiTermination") is not True:
            yield logical_id, "instance termination protection (DisableApiTermination) is off"


def check_stack_termination_protection(stack: Stack, s: Settings) -> Iterator[tuple[str | None, str]]:
    if s.production and not stack.termination_protection:
        yield None, f"production stack {stack.name} has no termination protection"


def check_retained(stack: Stack, s: Settings) -> Iterator[tuple[str | None, str]]:
    for logical_id, resource in resources(stack, *STATEFUL_TYPES):
        deletion, replace = resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")
        if deletion not in ("Retain", "RetainExceptOnCreate", "Snapshot") or replace not in ("Retain", "Snapshot"):
            yield (
                logical_id,
                f"{resource['Type']} is not retained (DeletionPolicy {deletion}, UpdateReplacePolicy {replace})",
            )


def _selection_covers(selection: Mapping[str, Any], logical_id: str, tags: Mapping[str, Any]) -> bool:
    if refers_to(selection.get("Resources", []), logical_id):
        return True
    for tag in as_list(selection.get("ListOfTags", [])):
        if isinstance(tag, Mapping) and tags.get(str(tag.get("ConditionKey"))) == tag.get("ConditionValue"):
            return True
    return False


def check_backup_coverage(stack: Stack, s: Settings) -> Iterator[tuple[str | None, str]]:
    selections = [props(sel).get("BackupSelection", {}) for _, sel in resources(stack, "AWS::Backup::BackupSelection")]
    for logical_id, resource in resources(stack, "AWS::EC2::Instance", "AWS::EC2::Volume"):
        tags = tags_of(resource) or {}
        if not any(_selection_covers(sel, logical_id, tags) for sel in selections):
            yield logical_id, f"{resource['Type']} is not covered by any AWS Backup selection in its stack"


def check_tags(stack: Stack, s: Settings) -> Iterator[tuple[str | None, str]]:
    expected = {"Environment": s.environment, "Municipality": s.municipality, "ManagedBy": s.managed_by}
    for logical_id, resource in resources(stack):
        tags = tags_of(resource)
        if tags is None:
            if resource.get("Type") in MUST_BE_TAGGED:
                yield logical_id, "has no tags"
            continue
        missing = [
            k for k in ("Municipality", "Environment", "System", "DataClassification", "ManagedBy") if k not in tags
        ]
        if missing:
            yield logical_id, f"missing required tags: {', '.join(missing)}"
        for key, value in expected.items():
            if key in tags and tags[key] != value:
                yield logical_id, f"tag {key}={tags[key]!r}; expected {value!r}"
        if "DataClassification" in tags and tags["DataClassification"] not in s.classifications:
            yield (
                logical_id,
                f"tag DataClassification={tags['DataClassification']!r}; allowed: {', '.join(s.classifications)}",
            )


def check_segment_isolation(stacks: list[Stack], s: Settings) -> Iterator[tuple[str, str | None, str]]:
    """From every Transit Gateway route table, association, propagation and static route of the environment."""
    by_name = {stack.stack_name or stack.name.replace("/", "-"): stack for stack in stacks}
    graph = transit.build({name: stack.template for name, stack in by_name.items()})
    for (stack_name, logical_id), detail in transit.isolation_findings(
        graph, s.allowed_segment_pairs, s.closed_segments
    ):
        yield by_name[stack_name].name, logical_id, detail


RULES: tuple[Rule, ...] = (
    Rule("GC-REGION-1", "Stacks only in Tokyo or Osaka",
         "Government Cloud data stays in Japan: ap-northeast-1 is primary, ap-northeast-3 is for disaster recovery.",
         "ガバメントクラウド利用基準 (data location); ISMAP", check_region,
         info_ja="スタックは東京または大阪にのみ置く",
         explanation_ja="ガバメントクラウドのデータは国内に置く。ap-northeast-1 が主、ap-northeast-3 は災害対策用。"),
    Rule("GC-NET-1", "No internet gateway, NAT gateway or Elastic IP",
         "The closed network (閉域) has no path to the internet; the My Number-linked segment must never reach it.",
         "三層分離 (My Number-linked segment); NIST SC-7", check_internet_gateways,
         info_ja="インターネットゲートウェイ、NAT ゲートウェイ、Elastic IP を置かない",
         explanation_ja=(
             "閉域ネットワークにはインターネットへの経路がなく、マイナンバー利用事務系は決してインターネットに"
             "到達してはならない。"
         )),
    Rule("GC-NET-2", "No public subnet or public IP",
         "No subnet maps public IPs and no interface gets one: nothing is addressable from the internet.",
         "三層分離; NIST SC-7", check_public_ips,
         info_ja="パブリックサブネットとパブリック IP を置かない",
         explanation_ja=(
             "パブリック IP を割り当てるサブネットも、パブリック IP を持つインターフェイスもない。インターネッ"
             "トから到達できるものは何もない。"
         )),
    Rule("GC-NET-3", "No ingress from 0.0.0.0/0 or ::/0",
         "Security groups and network ACLs admit only known networks, never the whole address space.",
         "三層分離; NIST SC-7, AC-4", check_open_ingress,
         info_ja="0.0.0.0/0 や ::/0 からの受信を許可しない",
         explanation_ja=(
             "セキュリティグループとネットワーク ACL は既知のネットワークだけを許可し、アドレス空間全体を許可し"
             "ない。"
         )),
    Rule("GC-NET-4", "Security-group ingress only from configured networks or other security groups",
         "Traffic flows only between configured CIDRs (city hall, LGWAN, the VPCs) and between roles; CIDRs are "
         "literals from config so that reviewers can read them.",
         "三層分離; NIST SC-7(5) deny by default", check_ingress_sources,
         info_ja="セキュリティグループの受信元は設定済みのネットワークか他のセキュリティグループだけ",
         explanation_ja=(
             "通信は設定された CIDR（庁内、LGWAN、VPC）の間とロールの間だけで行う。CIDR はレビューできるように"
             "設定ファイルのリテラルで書く。"
         )),
    Rule("GC-NET-5", "Each segment reaches only itself, allowed segments and the hub; My Number never a VPN",
         "Computed from every Transit Gateway route table, association, propagation and static route of the "
         "environment: an attachment's traffic may reach its own segment, segments an allowed pair names, and the hub; "
         "the My Number segment never reaches a VPN (it rides the internet); and the hub's table, which every "
         "segment's replies use, learns no link's routes, which could capture another segment's traffic.",
         "三層分離 (My Number-linked segment isolated); NIST SC-7, AC-4", None,
         info_ja="各セグメントが到達するのは自身、許可されたセグメント、ハブだけ。マイナンバー系は VPN に到達しない",
         explanation_ja=(
             "環境のすべての Transit Gateway ルートテーブル、関連付け、伝播、静的ルートから計算する。アタッチメントの"
             "通信が到達してよいのは自身のセグメント、許可されたペアのセグメント、ハブだけ。マイナンバー利用事務系は"
             "VPN（インターネットを通る）に到達しない。すべてのセグメントの応答が使うハブのテーブルは、リンクの経路を"
             "学習しない（他のセグメントの通信を奪いうるため）。"
         ), stage_check=check_segment_isolation),
    Rule("GC-S3-1", "Every bucket versioned",
         "Versioning keeps overwritten and deleted objects recoverable.", "NIST CP-9, SI-12", check_bucket_versioned,
         info_ja="すべてのバケットでバージョニングを有効にする",
         explanation_ja="上書き・削除されたオブジェクトを復元できるようにする。"),
    Rule("GC-S3-2", "Every bucket TLS-only",
         "A bucket policy denies every request made without TLS.", "NIST SC-8", check_bucket_tls_only,
         info_ja="すべてのバケットを TLS のみにする",
         explanation_ja="TLS を使わないリクエストはバケットポリシーですべて拒否する。"),
    Rule("GC-S3-3", "Every bucket blocks public access",
         "All four public access block settings are on, on every bucket, besides the account-level block.",
         "NIST AC-3, AC-21", check_bucket_public_access,
         info_ja="すべてのバケットでパブリックアクセスをブロックする",
         explanation_ja=(
             "アカウント単位のブロックに加えて、すべてのバケットで 4 つのパブリックアクセスブロック設定を有効に"
             "する。"
         )),
    Rule("GC-S3-4", "Every bucket encrypted with a customer-managed KMS key",
         "Data is encrypted with a key the city controls and can audit. S3 server access-log and load-balancer "
         "log buckets are exempt: S3 and ELB deliver only to SSE-S3 buckets.",
         "NIST SC-28; 暗号化 (ガバメントクラウド利用基準)", check_bucket_kms,
         info_ja="すべてのバケットをカスタマー管理の KMS キーで暗号化する",
         explanation_ja=(
             "市が管理・監査できる鍵で暗号化する。S3 のサーバーアクセスログとロードバランサーのログのバケットは"
             "例外（S3 と ELB は SSE-S3 のバケットにしか配信しない）。"
         )),
    Rule("GC-LOG-1", "Every log group KMS-encrypted and kept at least the configured retention",
         "Logs are evidence: encrypted with the account's logs key and kept for the configured period.",
         "NIST AU-9, AU-11", check_log_groups,
         info_ja="すべてのロググループを KMS で暗号化し、設定した保持期間以上保持する",
         explanation_ja="ログは証跡であり、アカウントのログ用キーで暗号化し、設定した期間保持する。"),
    Rule("GC-EC2-1", "Every EC2 host requires IMDSv2 with a hop limit of 1",
         "IMDSv2 with session tokens stops credential theft through server-side request forgery; a hop limit of 1 "
         "keeps the credentials on the host.",
         "NIST AC-3; CIS AWS 5.6", check_imdsv2,
         info_ja="すべての EC2 ホストで IMDSv2 必須、ホップ数 1",
         explanation_ja=(
             "セッショントークン付きの IMDSv2 はサーバーサイドリクエストフォージェリによる認証情報の窃取を防ぎ"
             "、ホップ数 1 で認証情報をホストの外に出さない。"
         )),
    Rule("GC-EC2-2", "No EC2 key pairs",
         "Operators connect through Session Manager (logged); no SSH or RDP keys exist to leak.",
         "NIST AC-17, IA-2", check_no_key_pair,
         info_ja="EC2 のキーペアを使わない",
         explanation_ja=(
             "運用者は（記録される）Session Manager で接続する。漏えいしうる SSH や RDP の鍵は存在しない。"
         )),
    Rule("GC-EC2-3", "Every EC2 volume encrypted",
         "Root and data volumes are encrypted with the account's data key.", "NIST SC-28", check_encrypted_volumes,
         info_ja="すべての EC2 ボリュームを暗号化する",
         explanation_ja="ルートボリュームもデータボリュームも、アカウントのデータ用キーで暗号化する。"),
    Rule("GC-EC2-4", "Every production EC2 host has termination protection",
         "A mistaken API call or console click cannot terminate a host of a production business system (staging "
         "hosts can be torn down with their environment).",
         "NIST CP-10; 非機能要件 (availability)", check_instance_termination_protection,
         info_ja="本番の EC2 ホストにはすべて終了保護を付ける",
         explanation_ja=(
             "API の誤操作やコンソールのクリック一つで本番業務システムのホストが終了されないようにする（ステー"
             "ジングのホストは環境ごと撤去できる）。"
         )),
    Rule("GC-STACK-1", "Production stacks have termination protection",
         "Deleting a production stack takes a deliberate step.", "NIST CM-3", check_stack_termination_protection,
         info_ja="本番のスタックには終了保護を付ける",
         explanation_ja="本番スタックの削除には意図的な手順を要する。"),
    Rule("GC-STATE-1", "Stateful resources are retained on delete and replace",
         "Buckets, keys, log groups, volumes, vaults, queues, tables and databases outlive their stack.",
         "NIST CP-9, SI-12", check_retained,
         info_ja="状態を持つリソースは削除時・置き換え時に保持する",
         explanation_ja=(
             "バケット、キー、ロググループ、ボリューム、ボールト、キュー、テーブル、データベースはスタックより"
             "長く残る。"
         )),
    Rule("GC-BACKUP-1", "Every host and data volume is covered by an AWS Backup selection",
         "A daily backup gives the recovery point of one business day that the municipal standard asks for.",
         "地方公共団体情報システム非機能要件の標準 (RPO); NIST CP-9", check_backup_coverage,
         info_ja="すべてのホストとデータボリュームを AWS Backup の選択対象にする",
         explanation_ja=(
             "日次バックアップで、地方公共団体情報システム非機能要件の標準が求める 1 業務日の復旧点を満たす。"
         )),
    Rule("GC-TAG-1", "Required tags present with allowed values",
         "Municipality, Environment, System, DataClassification and ManagedBy on every taggable resource, for "
         "cost allocation and for finding what holds which data.",
         "NIST CM-8; cost allocation", check_tags,
         info_ja="必須タグが許可された値で付いている",
         explanation_ja=(
             "コスト配分と、どのリソースがどのデータを持つかを把握するため、タグ付け可能なすべてのリソースに Mu"
             "nicipality、Environment、System、DataClassification、ManagedBy を付ける。"
         )),
)  # fmt: skip

RULES_BY_ID = {rule.id: rule for rule in RULES}


def evaluate(stack: Stack, settings: Settings, rules: tuple[Rule, ...] = RULES) -> list[Finding]:
    """Every finding of every rule on one stack, in rule order."""
    return [
        Finding(rule=rule.id, logical_id=logical_id, detail=detail)
        for rule in rules
        if rule.check is not None
        for logical_id, detail in rule.check(stack, settings)
    ]


def evaluate_stage(
    stacks: list[Stack], settings: Settings, rules: tuple[Rule, ...] = RULES
) -> list[tuple[str, Finding]]:
    """Every finding of every rule over a whole environment: (the stack's name, finding)."""
    return [
        (stack_name, Finding(rule=rule.id, logical_id=logical_id, detail=detail))
        for rule in rules
        if rule.stage_check is not None
        for stack_name, logical_id, detail in rule.stage_check(stacks, settings)
    ]
