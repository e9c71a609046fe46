"""Transit Gateway reachability computed from synthesized templates (no CDK import): which attachments each
attachment's traffic can be routed to, through the route table it is associated with.

An attachment's traffic is looked up in the one route table it is associated with; that table routes to every
attachment that propagates into it and to every static route's target. Attachments are known by the resources
that create them: ``AWS::EC2::TransitGatewayVpcAttachment`` (its ``Segment`` tag), or, for Direct Connect and VPN
links, whose attachments CloudFormation cannot create, the resource whose ``Metadata.TransitGatewayAttachment``
says their segment and type. References are followed through ``Ref``, ``Fn::GetAtt`` and ``Fn::GetStackOutput``
(to the other stack's output), so associations in one stack can name attachments and tables of others.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

ATTACHMENT_METADATA = "TransitGatewayAttachment"
HUB = "hub"

Node = tuple[str, str]
"""(stack, logical ID) of a resource."""


@dataclass(frozen=True)
class Attachment:
    segment: str | None
    type: str  # vpc | vpn | direct-connect-gateway


@dataclass
class Graph:
    attachments: dict[Node, Attachment] = field(default_factory=dict)
    tables: dict[Node, str | None] = field(default_factory=dict)
    associations: dict[Node, tuple[Node, Node]] = field(default_factory=dict)
    """attachment -> (its table, the association resource)"""
    routes: dict[Node, list[tuple[Node, Node]]] = field(default_factory=lambda: defaultdict(list))
    """table -> [(target attachment, the propagation or static route resource)]"""

    def reachable(self, attachment: Node) -> Iterator[tuple[Node, Node]]:
        """(target attachment, the resource that routes to it) for each route of the attachment's table."""
        if attachment in self.associations:
            table, _ = self.associations[attachment]
            yield from self.routes.get(table, [])


def _tag(resource: Mapping[str, Any], key: str) -> str | None:
    tags = (resource.get("Properties") or {}).get("Tags") or []
    for tag in tags if isinstance(tags, list) else []:
        if isinstance(tag, Mapping) and tag.get("Key") == key and isinstance(tag.get("Value"), str):
            return str(tag["Value"])
    return None


def build(templates: Mapping[str, Mapping[str, Any]]) -> Graph:
    """``templates``: each stack's template by its CloudFormation stack name (``KobeStg-NetworkHub``)."""
    graph = Graph()

    def resolve(value: Any, stack: str, depth: int = 0) -> Node | None:
        if not isinstance(value, Mapping) or depth > 5:
            return None
        if isinstance(value.get("Ref"), str):
            return stack, value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            name = target[0] if isinstance(target, list) else str(target).split(".")[0]
            return stack, name
        if "Fn::GetStackOutput" in value:
            read = value["Fn::GetStackOutput"]
            other = templates.get(str(read.get("StackName")))
            if other is None:
                return None
            output = (other.get("Outputs") or {}).get(str(read.get("OutputName"))) or {}
            return resolve(output.get("Value"), str(read.get("StackName")), depth + 1)
        return None

    for stack, template in templates.items():
        for logical_id, resource in (template.get("Resources") or {}).items():
            kind = resource.get("Type")
            if kind == "AWS::EC2::TransitGatewayVpcAttachment":
                graph.attachments[(stack, logical_id)] = Attachment(_tag(resource, "Segment"), "vpc")
            elif kind == "AWS::EC2::TransitGatewayRouteTable":
                graph.tables[(stack, logical_id)] = _tag(resource, "Segment")
            meta = (resource.get("Metadata") or {}).get(ATTACHMENT_METADATA)
            if isinstance(meta, Mapping):
                graph.attachments[(stack, logical_id)] = Attachment(meta.get("Segment"), str(meta.get("Type")))
    for stack, template in templates.items():
        for logical_id, resource in (template.get("Resources") or {}).items():
            kind = resource.get("Type")
            props = resource.get("Properties") or {}
            here = (stack, logical_id)
            table = resolve(props.get("TransitGatewayRouteTableId"), stack)
            attachment = resolve(props.get("TransitGatewayAttachmentId"), stack)
            if table is None or attachment is None:
                continue
            if kind == "AWS::EC2::TransitGatewayRouteTableAssociation":
                graph.associations[attachment] = (table, here)
            elif kind in ("AWS::EC2::TransitGatewayRouteTablePropagation", "AWS::EC2::TransitGatewayRoute"):
                graph.routes[table].append((attachment, here))
    return graph


def isolation_findings(
    graph: Graph, allowed_pairs: tuple[tuple[str, str], ...], closed_segments: tuple[str, ...]
) -> Iterator[tuple[Node, str]]:
    """Where a segment's traffic can leave it: (the resource that makes the route, why).

    - an attachment of a segment reaches an attachment of another segment that no allowed pair names;
    - an attachment of a closed segment (My Number) reaches a VPN attachment, which rides the internet;
    - the hub's table, which every segment's replies use, routes to a link: that link's advertisements (a more
      specific prefix than another segment's network) would capture traffic meant for other segments;
    - an attachment whose segment the templates do not say (it cannot be checked)."""
    peers: dict[str, set[str]] = defaultdict(set)
    for a, b in allowed_pairs:
        peers[a].add(b)
        peers[b].add(a)
    seen: set[tuple[Node, str]] = set()
    for node, attachment in sorted(graph.attachments.items()):
        segment = attachment.segment
        for target, origin in graph.reachable(node):
            other = graph.attachments.get(target)
            if other is None or other.segment is None or segment is None:
                unknown = target if other is None or other.segment is None else node
                finding = (origin, f"the segment of attachment {unknown[1]} ({unknown[0]}) is not stated: tag it")
            elif segment == HUB:
                if other.type == "vpc":
                    continue
                finding = (
                    origin,
                    f"the hub's table, which every segment's traffic shares, routes to a {other.type} link of segment "
                    f"{other.segment!r}: an advertisement there can capture traffic meant for another segment",
                )
            elif segment in closed_segments and other.type == "vpn":
                finding = (origin, f"segment {segment!r} reaches a VPN of segment {other.segment!r}, over the internet")
            elif other.segment not in (segment, HUB) and other.segment not in peers[segment]:
                finding = (
                    origin,
                    f"segment {segment!r} reaches segment {other.segment!r} ({other.type}), which no allowed pair "
                    "names",
                )
            else:
                continue
            if finding not in seen:
                seen.add(finding)
                yield finding
