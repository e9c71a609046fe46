"""Template values as text a reviewer reads: intrinsic functions resolved to names, ports and protocols in words,
principals said for what they are. Shared by the inventory report, the pull-request review and the diagram."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

PROTOCOLS = {"-1": "all", "1": "icmp", "6": "tcp", "17": "udp", "58": "icmpv6"}
PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
# CDK writes this egress rule into a security group that allows no egress at all (allowAllOutbound false with no
# rule): ICMP type 252, code 86, to 255.255.255.255/32, which matches no packet. CloudFormation would otherwise add
# its default allow-all egress.
NO_EGRESS_PLACEHOLDER = {"IpProtocol": "icmp", "FromPort": 252, "ToPort": 86, "CidrIp": "255.255.255.255/32"}
ROOT_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}|\$\{AWS::AccountId\}):root$")


def value(v: Any) -> str:
    """A property value as plain text: ``Ref`` and ``Fn::GetAtt`` as logical IDs in backticks, joins joined,
    pseudo parameters as ``${AWS::AccountId}`` (the partition as ``aws``)."""
    if isinstance(v, Mapping):
        if "Ref" in v:
            ref = str(v["Ref"])
            if ref.startswith("AWS::"):
                return PSEUDO.get(ref, f"${{{ref}}}")
            return f"`{ref}`"
        if "Fn::GetAtt" in v:
            target = v["Fn::GetAtt"]
            return f"`{target[0]}.{target[1]}`" if isinstance(target, list) else f"`{target}`"
        if "Fn::Join" in v:
            sep, parts = v["Fn::Join"]
            return str(sep).join(value(p) for p in parts)
        if "Fn::Sub" in v:
            sub = v["Fn::Sub"]
            return str(sub if isinstance(sub, str) else sub[0]).replace("${AWS::Partition}", "aws")
        if "Fn::GetStackOutput" in v:
            read = v["Fn::GetStackOutput"]
            return f"`{read.get('StackName')} {output_name(str(read.get('OutputName')))}`"
        if "Fn::ImportValue" in v:
            return f"import `{value(v['Fn::ImportValue'])}`"
        return json.dumps(v, ensure_ascii=False, sort_keys=True)
    if isinstance(v, list):
        return ", ".join(value(x) for x in v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return "-" if v is None else str(v)


CDK_OUTPUT = re.compile(r"^PublishOutput(?:FnGetAtt|Ref)(.+?)(?:[0-9A-F]{8})?(Arn|Id|GroupId|Name)?[0-9A-F]{8}$")


def output_name(name: str) -> str:
    """What a CDK cross-stack output holds, from its name: ``PublishOutputFnGetAttDataLakeKeyCEB7BCCCArn4014F1CE``
    is ``DataLakeKey.Arn``; other names stay as they are."""
    match = CDK_OUTPUT.match(name)
    if not match:
        return name
    return match.group(1) + (f".{match.group(2)}" if match.group(2) else "")


def cell(v: Any) -> str:
    """A value made safe for a Markdown table cell."""
    return value(v).replace("|", "\\|").replace("\n", " ")


def protocol(p: Any) -> str:
    return PROTOCOLS.get(str(p), str(p))


def ports(rule: Mapping[str, Any]) -> str:
    """``443``, ``1024-65535`` or ``all`` from a security-group rule (FromPort/ToPort) or a NACL entry
    (PortRange); ICMP as its type and code."""
    if "PortRange" in rule and isinstance(rule["PortRange"], Mapping):
        low, high = rule["PortRange"].get("From"), rule["PortRange"].get("To")
    elif "Icmp" in rule and isinstance(rule["Icmp"], Mapping):
        return f"type {rule['Icmp'].get('Type', 'all')} code {rule['Icmp'].get('Code', 'all')}"
    else:
        low, high = rule.get("FromPort"), rule.get("ToPort")
    if protocol(rule.get("IpProtocol", rule.get("Protocol"))) in ("icmp", "icmpv6") and "PortRange" not in rule:
        return "all" if low in (None, -1) else f"type {low} code {'all' if high in (None, -1) else high}"
    if (low is None and high is None) or (low in (0, -1) and high in (65535, -1)):
        return "all"
    return str(low) if low == high else f"{low}-{high}"


def is_no_egress_placeholder(rule: Mapping[str, Any]) -> bool:
    return all(rule.get(k) == v for k, v in NO_EGRESS_PLACEHOLDER.items())


def peer(rule: Mapping[str, Any]) -> str:
    """The other side of a security-group rule."""
    for key in ("CidrIp", "CidrIpv6"):
        if key in rule:
            return value(rule[key])
    for key in ("SourceSecurityGroupId", "DestinationSecurityGroupId"):
        if key in rule:
            return f"group {value(rule[key]).replace('.GroupId`', '`')}"
    for key in ("SourcePrefixListId", "DestinationPrefixListId"):
        if key in rule:
            return f"prefix list {value(rule[key])}"
    return "?"


def principal(p: Any) -> str:
    """A policy principal in words: ``service ec2.amazonaws.com``, ``account 111100000001``, ``role `X` of this
    stack``, ``anyone``."""
    if p == "*":
        return "anyone (*)"
    if not isinstance(p, Mapping):
        return value(p)
    said = []
    for kind, entries in sorted(p.items()):
        for entry in entries if isinstance(entries, list) else [entries]:
            if kind == "Service":
                said.append(f"service {value(entry)}")
            elif kind == "Federated":
                said.append(f"federated {value(entry)}")
            elif kind == "CanonicalUser":
                said.append(f"canonical user {value(entry)}")
            elif entry == "*":
                said.append("any AWS principal (*)")
            elif isinstance(entry, Mapping) and "Fn::GetAtt" in entry:
                target = entry["Fn::GetAtt"]
                said.append(f"`{target[0] if isinstance(target, list) else target}` of this stack")
            else:
                text = value(entry)
                root = ROOT_ARN.match(text)
                if root:
                    account = root.group(1).replace("${AWS::AccountId}", "this account")
                    said.append(f"account {account} (any principal it allows)")
                elif re.fullmatch(r"\d{12}", text):
                    said.append(f"account {text} (any principal it allows)")
                else:
                    said.append(text)
    return ", ".join(said)


def conditions(statement: Mapping[str, Any]) -> str:
    """A statement's condition block, compact: ``ArnLike aws:PrincipalArn=arn:...``."""
    block = statement.get("Condition")
    if not isinstance(block, Mapping):
        return ""
    parts = []
    for operator, tests in sorted(block.items()):
        for key, expected in sorted((tests or {}).items()) if isinstance(tests, Mapping) else []:
            parts.append(f"{operator} {key}={value(expected)}")
    return "; ".join(parts)
