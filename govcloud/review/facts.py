"""What a reviewer checks in a set of templates, as comparable facts: one fact per security-group rule, NACL entry,
route, endpoint, segment pair, trust, policy statement, data store's key, deletion policy and acknowledgement.

A pull-request review compares the facts of the base and the head: a fact only in the head was added, one only in
the base removed, a changed rule is one of each. A fact is its kind and its fields; it is rendered in English or
Japanese by :mod:`govcloud.review.i18n`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from govcloud.compliance import transit
from govcloud.compliance.rules import STATEFUL_TYPES, as_list
from govcloud.review import text
from govcloud.review.assembly import Assembly, StackArtifact
from govcloud.review.report import ENCRYPTION_OF, acknowledgements, key_name

ENVIRONMENT = "(environment)"
"""The stack name of facts about the environment as a whole (segment reachability, compliance findings)."""
CATEGORIES = ("network", "iam", "encryption", "stateful", "acknowledgements", "compliance")
RESOURCE_POLICIES = {
    "AWS::S3::BucketPolicy": ("Bucket", "PolicyDocument"),
    "AWS::SQS::QueuePolicy": ("Queues", "PolicyDocument"),
    "AWS::SNS::TopicPolicy": ("Topics", "PolicyDocument"),
}
REGION_NAMES = {"ap-northeast-1": "Tokyo", "ap-northeast-3": "Osaka"}


@dataclass(frozen=True, order=True)
class Fact:
    category: str
    stack: str
    kind: str
    fields: tuple[tuple[str, str], ...]
    warning: bool = False
    """A wildcard, an open trust, a data store without a key: marked for the reviewer."""

    def get(self, key: str) -> str:
        return dict(self.fields)[key]


def fact(category: str, stack: str, kind: str, warning: bool = False, **fields: Any) -> Fact:
    return Fact(category, stack, kind, tuple((k, str(v)) for k, v in fields.items()), warning)


def _props(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    value = resource.get("Properties", {})
    return value if isinstance(value, Mapping) else {}


def _statements(document: Any) -> list[Mapping[str, Any]]:
    if not isinstance(document, Mapping):
        return []
    return [s for s in as_list(document.get("Statement", [])) if isinstance(s, Mapping)]


def network(stack: StackArtifact) -> Iterator[Fact]:
    name = stack.name
    for logical_id, resource in stack.resources.items():
        kind, p = resource.get("Type"), _props(resource)
        if kind == "AWS::EC2::SecurityGroup":
            for direction, key in (("ingress", "SecurityGroupIngress"), ("egress", "SecurityGroupEgress")):
                for rule in as_list(p.get(key, [])):
                    if isinstance(rule, Mapping):
                        yield _rule(name, logical_id, direction, rule)
        elif kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
            direction = "ingress" if kind.endswith("Ingress") else "egress"
            yield _rule(name, text.value(p.get("GroupId")).strip("`").removesuffix(".GroupId"), direction, p)
        elif kind == "AWS::EC2::NetworkAclEntry":
            yield fact(
                "network",
                name,
                "nacl",
                acl=text.value(p.get("NetworkAclId")).strip("`"),
                direction="egress" if p.get("Egress") else "ingress",
                number=p.get("RuleNumber"),
                action=p.get("RuleAction"),
                protocol=text.protocol(p.get("Protocol")),
                ports=text.ports(p),
                cidr=text.value(p.get("CidrBlock") or p.get("Ipv6CidrBlock")),
            )
        elif kind == "AWS::EC2::Route":
            target = next(
                (
                    f"{k.removesuffix('Id')} {text.value(v)}"
                    for k, v in sorted(p.items())
                    if k.endswith("Id") and k != "RouteTableId"
                ),
                "?",
            )
            destination = (
                p.get("DestinationCidrBlock") or p.get("DestinationPrefixListId") or p.get("DestinationIpv6CidrBlock")
            )
            yield fact(
                "network",
                name,
                "route",
                table=text.value(p.get("RouteTableId")).strip("`"),
                destination=text.value(destination),
                target=target.replace("`", ""),
            )
        elif kind == "AWS::EC2::TransitGatewayRoute":
            target = "blackhole" if p.get("Blackhole") else text.value(p.get("TransitGatewayAttachmentId"))
            yield fact(
                "network",
                name,
                "tgw_route",
                table=text.value(p.get("TransitGatewayRouteTableId")).strip("`"),
                destination=text.value(p.get("DestinationCidrBlock")),
                target=target.replace("`", ""),
            )
        elif kind == "AWS::EC2::VPCEndpoint":
            yield fact(
                "network",
                name,
                "endpoint",
                vpc=text.value(p.get("VpcId")).strip("`"),
                service=text.value(p.get("ServiceName")),
                type=p.get("VpcEndpointType", "Gateway"),
            )
        elif kind in (
            "AWS::EC2::InternetGateway",
            "AWS::EC2::NatGateway",
            "AWS::EC2::EIP",
            "AWS::EC2::EgressOnlyInternetGateway",
        ):
            yield fact("network", name, "internet", warning=True, resource=logical_id, type=kind)
        elif kind == "AWS::DirectConnect::DirectConnectGatewayAssociation":
            yield fact(
                "network",
                name,
                "dx_prefixes",
                gateway=text.value(p.get("DirectConnectGatewayId")),
                prefixes=text.value(p.get("AllowedPrefixesToDirectConnectGateway", [])),
            )
        elif kind == "AWS::EC2::CustomerGateway":
            yield fact("network", name, "customer_gateway", address=p.get("IpAddress"), asn=p.get("BgpAsn"))


def _rule(stack: str, group: str, direction: str, rule: Mapping[str, Any]) -> Fact:
    if direction == "egress" and text.is_no_egress_placeholder(rule):
        return fact("network", stack, "no_egress", group=group)
    peer = text.peer(rule)
    return fact(
        "network",
        stack,
        "sg_rule",
        warning=peer in ("0.0.0.0/0", "::/0"),
        group=group,
        direction=direction,
        protocol=text.protocol(rule.get("IpProtocol")),
        ports=text.ports(rule),
        peer=peer.replace("`", ""),
    )


def segments(stacks: list[StackArtifact]) -> Iterator[Fact]:
    """Which segment reaches which, through the Transit Gateways' tables (per region)."""
    graph = transit.build({s.name: s.template for s in stacks})
    region = {s.name: REGION_NAMES.get(s.region, s.region) for s in stacks}
    seen = set()
    for node, attachment in sorted(graph.attachments.items()):
        for target, _ in graph.reachable(node):
            other = graph.attachments.get(target)
            if other is None:
                continue
            pair = (attachment.segment, attachment.type, other.segment, other.type, region[node[0]])
            if pair not in seen:
                seen.add(pair)
                yield fact(
                    "network",
                    ENVIRONMENT,
                    "reach",
                    source=f"{attachment.segment} ({attachment.type})",
                    target=f"{other.segment} ({other.type})",
                    region=region[node[0]],
                )


def iam(stack: StackArtifact) -> Iterator[Fact]:
    name = stack.name
    for logical_id, resource in stack.resources.items():
        kind, p = resource.get("Type"), _props(resource)
        if kind == "AWS::IAM::Role":
            for statement in _statements(p.get("AssumeRolePolicyDocument")):
                who = text.principal(statement.get("Principal"))
                yield fact(
                    "iam",
                    name,
                    "trust",
                    warning="*" in who,
                    role=logical_id,
                    principal=who.replace("`", ""),
                    condition=text.conditions(statement),
                )
            for arn in as_list(p.get("ManagedPolicyArns", [])):
                yield fact("iam", name, "managed", role=logical_id, policy=text.value(arn).replace("`", ""))
            for inline in as_list(p.get("Policies", [])):
                if isinstance(inline, Mapping):
                    yield from _permissions(name, logical_id, inline.get("PolicyDocument"))
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for role in as_list(p.get("Roles", [])):
                target = text.value(role).strip("`")
                yield from _permissions(name, target, p.get("PolicyDocument"))
        elif kind in RESOURCE_POLICIES:
            subject_key, document_key = RESOURCE_POLICIES[kind]
            subject = text.value(p.get(subject_key)).replace("`", "")
            for statement in _statements(p.get(document_key)):
                yield _resource_statement(name, f"{kind.split('::')[1]} {subject}", statement)
        elif kind == "AWS::KMS::Key":
            for statement in _statements(p.get("KeyPolicy")):
                yield _resource_statement(name, f"KMS {logical_id}", statement)


def _permissions(stack: str, role: str, document: Any) -> Iterator[Fact]:
    for statement in _statements(document):
        actions = [text.value(a) for a in as_list(statement.get("Action", statement.get("NotAction", [])))]
        resources = [text.value(r).replace("`", "") for r in as_list(statement.get("Resource", "*"))]
        # One fact per resource: a resource added to a long list is one line, not the whole statement twice.
        for resource in resources:
            wildcard = any("*" in a for a in actions) or resource == "*" or resource.endswith(":*")
            yield fact(
                "iam",
                stack,
                "permission",
                warning=wildcard and statement.get("Effect") == "Allow",
                role=role,
                effect=statement.get("Effect"),
                actions=", ".join(sorted(actions)),
                resources=resource,
                condition=text.conditions(statement),
            )


def _resource_statement(stack: str, subject: str, statement: Mapping[str, Any]) -> Fact:
    who = text.principal(statement.get("Principal", "*"))
    actions = [text.value(a) for a in as_list(statement.get("Action", []))]
    return fact(
        "iam",
        stack,
        "resource_policy",
        warning=statement.get("Effect") == "Allow" and "*" in who and not statement.get("Condition"),
        subject=subject,
        effect=statement.get("Effect"),
        principal=who.replace("`", ""),
        actions=", ".join(sorted(actions)),
        condition=text.conditions(statement),
    )


def encryption(stack: StackArtifact) -> Iterator[Fact]:
    aliases: dict[str, str] = {}
    for resource in stack.resources.values():
        if resource.get("Type") == "AWS::KMS::Alias":
            target = text.value(_props(resource).get("TargetKeyId")).strip("`").removesuffix(".Arn")
            aliases[target] = str(_props(resource).get("AliasName"))
    for logical_id, resource in stack.resources.items():
        kind, p = str(resource.get("Type")), _props(resource)
        extract = ENCRYPTION_OF.get(kind)
        if extract:
            key = key_name(extract(p), aliases).replace("`", "")
            yield fact(
                "encryption",
                stack.name,
                "store",
                warning=key == "**none**",
                resource=logical_id,
                type=kind,
                key=key.replace("**", ""),
            )
        elif kind == "AWS::KMS::Key":
            yield fact(
                "encryption",
                stack.name,
                "key",
                warning=p.get("EnableKeyRotation") is not True
                and p.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT",
                resource=logical_id,
                alias=aliases.get(logical_id, "-"),
                rotation="on" if p.get("EnableKeyRotation") else "off",
            )


def stateful(stack: StackArtifact) -> Iterator[Fact]:
    for logical_id, resource in stack.resources.items():
        kind = resource.get("Type")
        if kind in STATEFUL_TYPES or kind == "AWS::EC2::Instance":
            deletion = resource.get("DeletionPolicy", "Delete")
            yield fact(
                "stateful",
                stack.name,
                "policy",
                warning=deletion == "Delete",
                resource=logical_id,
                type=kind,
                deletion=deletion,
                replace=resource.get("UpdateReplacePolicy", "Delete"),
            )


def acknowledged(stack: StackArtifact) -> Iterator[Fact]:
    for _, logical_id, rule, reason in acknowledgements([stack]):
        yield fact("acknowledgements", stack.name, "ack", resource=logical_id, rule=rule, reason=reason)


def findings(assembly: Assembly, stage: str) -> Iterator[Fact]:
    """Unacknowledged findings of the validation report (a synth with any has failed)."""
    report = assembly.validation_report or {}
    for plugin in report.get("pluginReports", []):
        for violation in plugin.get("violations", []):
            paths = [str(c.get("constructPath", "")) for c in violation.get("violatingConstructs", [])]
            mine = [p for p in paths if p.startswith(f"{stage}/")] if any("/" in p for p in paths) else paths
            if mine or not paths:
                yield fact(
                    "compliance",
                    ENVIRONMENT,
                    "finding",
                    warning=True,
                    pack=plugin.get("pluginName"),
                    rule=violation.get("ruleName"),
                    count=len(mine or paths),
                )


def of_stage(assembly: Assembly, stage: str) -> set[Fact]:
    stacks = assembly.of_stage(stage)
    out: set[Fact] = set(segments(stacks)) | set(findings(assembly, stage))
    for stack in stacks:
        for extract in (network, iam, encryption, stateful, acknowledged):
            out.update(extract(stack))
    return out
