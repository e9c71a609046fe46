"""A Mermaid diagram of one environment, drawn from its templates (not from config): accounts, VPCs and their
segments, the Transit Gateways' route tables, the links to the city hall and LGWAN, the business systems and their
tiers, the data lake and the linkage flows.

What repeats is folded so that 20 systems stay readable: accounts that hold the same kind of spoke and system (same
segment, same tables, same tiers) become one group with one spoke node and one system node naming them all. In a
pull-request review the parts the change adds are green and the parts it changes amber.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from govcloud.compliance import transit
from govcloud.review.assembly import Assembly, StackArtifact
from govcloud.review.changes import ChangeSet
from govcloud.review.facts import REGION_NAMES
from govcloud.review.i18n import diagram_label, word

FOLD = 3
"""More accounts than this with the same spoke and system are drawn as one group."""
NAMES_SHOWN = 6
CLASSES = (
    "classDef added fill:#dafbe1,stroke:#1a7f37,stroke-width:2px",
    "classDef changed fill:#fff8c5,stroke:#9a6700,stroke-width:2px",
)
Node = tuple[str, str]
Unit = tuple[str, str]
"""(account, region): where a spoke and its system live."""
SystemKey = tuple[str, str, str]
"""(account, system, region)."""


@dataclass
class Box:
    """A node of the diagram and the template resources it stands for."""

    id: str
    label: str
    shape: str = "rect"  # rect | cylinder | stadium | hexagon
    members: set[Node] = field(default_factory=set)


def _id(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(parts))


def _quote(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def _tags(resource: Mapping[str, Any]) -> dict[str, str]:
    tags = (resource.get("Properties") or {}).get("Tags") or []
    return {
        str(t.get("Key")): str(t.get("Value"))
        for t in tags
        if isinstance(t, Mapping) and isinstance(t.get("Value"), str)
    }


def _refs(value: Any) -> set[str]:
    """Logical IDs a value refers to."""
    found: set[str] = set()
    if isinstance(value, Mapping):
        if isinstance(value.get("Ref"), str):
            found.add(value["Ref"])
        target = value.get("Fn::GetAtt")
        if isinstance(target, list) and target:
            found.add(str(target[0]))
        for v in value.values():
            found |= _refs(v)
    elif isinstance(value, list):
        for v in value:
            found |= _refs(v)
    return found


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, Mapping):
        return set().union(*(_strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return set()


@dataclass
class Drawing:
    groups: dict[str, tuple[str, list[Box]]] = field(default_factory=dict)
    """group id -> (label, boxes)"""
    edges: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(from, to, arrow, label)"""
    aliases: dict[str, str] = field(default_factory=dict)
    """A node folded into another: edges to it go to the fold."""

    def box(self, group: str, group_label: str, box: Box) -> Box:
        self.groups.setdefault(group, (group_label, []))[1].append(box)
        return box

    def edge(self, a: str, b: str, arrow: str = "-->", text: str = "") -> None:
        if (a, b, arrow, text) not in self.edges and a != b:
            self.edges.append((a, b, arrow, text))


def draw(stacks: list[StackArtifact], lang: str = "en") -> Drawing:
    return _Drawer(stacks, lang).draw()


class _Drawer:
    """What the templates say, read once; then each part of the drawing in turn."""

    def __init__(self, stacks: list[StackArtifact], lang: str) -> None:
        self.d = Drawing()
        self.stacks, self.lang = stacks, lang
        self.templates = {s.name: s.template for s in stacks}
        self.by_name = {s.name: s for s in stacks}
        self.graph = transit.build(self.templates)
        self.account_of = {s.name: s.account for s in stacks}
        self.holds: dict[str, list[str]] = defaultdict(list)
        for s in stacks:
            short = s.display_name.split("/")[-1] if s.display_name else s.name
            if not short.startswith("Baseline"):
                self.holds[s.account].append(short)
        self.vpcs, self.inside = self._read_vpcs()
        regions = Counter(s.region for s in stacks)
        self.primary = regions.most_common(1)[0][0] if regions else ""
        self.systems, self.system_members = self._read_systems()
        self.table_box: dict[Node, str] = {}

    def draw(self) -> Drawing:
        self._tables_and_links()
        folded = self._folds()
        self._spokes({unit for units in folded.values() for unit in units})
        self._folded_spokes(folded)
        # the linkage queues deliver to the systems' hosts in the primary region
        primary_systems = {self.system_id(*k): k[1] for k in self.systems if k[2] == self.primary}
        _data_flows(self.d, self.stacks, primary_systems, self.lang)
        for account in {s.account for s in self.stacks}:
            group = _id("acct", account)
            if group in self.d.groups:
                self.d.groups[group] = (self.account_label(account), self.d.groups[group][1])
        return self.d

    def system_id(self, account: str, system: str, region: str) -> str:
        """A system's node: one per region it has resources in (Osaka's pilot light holds its load balancer)."""
        return _id("sys", account, system) if region == self.primary else _id("sys", account, system, region)

    def region_of(self, node: Node) -> str:
        return self.by_name[node[0]].region

    def where(self, stack: str) -> str:
        region = self.by_name[stack].region
        return word(self.lang, REGION_NAMES.get(region, region))

    def account_label(self, account: str) -> str:
        return f"account {account}: {', '.join(sorted(self.holds[account])[:3]) or 'baseline'}"

    def table_of(self, attachment: Node | None) -> Node | None:
        associations = self.graph.associations
        return associations[attachment][0] if attachment in associations else None

    def propagates_to(self, attachment: Node | None) -> frozenset[Node]:
        routes = self.graph.routes
        return frozenset(t for t, entries in routes.items() for target, _ in entries if target == attachment)

    def _read_vpcs(self) -> tuple[dict[Node, dict[str, Any]], dict[Node, set[Node]]]:
        """Each VPC with its CIDR, system, tiers and Transit Gateway attachment; what refers to each VPC."""
        vpcs: dict[Node, dict[str, Any]] = {}
        for s in self.stacks:
            for lid, r in s.resources.items():
                if r.get("Type") == "AWS::EC2::VPC":
                    tags = _tags(r)
                    tiers = Counter(
                        _tags(sub).get("aws-cdk:subnet-name", "?")
                        for sub in s.resources.values()
                        if sub.get("Type") == "AWS::EC2::Subnet"
                        and lid in _refs((sub.get("Properties") or {}).get("VpcId"))
                    )
                    vpcs[(s.name, lid)] = {
                        "cidr": (r.get("Properties") or {}).get("CidrBlock", "?"),
                        "system": tags.get("System", "?"),
                        "tiers": ", ".join(t for t in tiers if t != "Attachments"),
                        "attachment": None,
                        "name": tags.get("Name", lid).split("/")[-3] if tags.get("Name", "").count("/") >= 3 else lid,
                    }
        inside: dict[Node, set[Node]] = defaultdict(set)
        for s in self.stacks:
            for lid, r in s.resources.items():
                for vpc_id in _refs((r.get("Properties") or {}).get("VpcId")):
                    inside[(s.name, vpc_id)].add((s.name, lid))
        for node, attachment in self.graph.attachments.items():
            if attachment.type != "vpc":
                continue
            props = self.templates[node[0]]["Resources"][node[1]].get("Properties") or {}
            for vpc_id in _refs(props.get("VpcId")):
                if (node[0], vpc_id) in vpcs:
                    vpcs[(node[0], vpc_id)]["attachment"] = node
        return vpcs, inside

    def _read_systems(self) -> tuple[dict[SystemKey, Counter[str]], dict[SystemKey, set[Node]]]:
        """Hosts per role (and load balancers) of each (account, system, region), and the resources each stands
        for."""
        systems: dict[SystemKey, Counter[str]] = defaultdict(Counter)
        members: dict[SystemKey, set[Node]] = defaultdict(set)
        for s in self.stacks:
            for lid, r in s.resources.items():
                kind = r.get("Type")
                tags = _tags(r)
                key = (s.account, tags.get("System", "?"), s.region)
                if kind == "AWS::EC2::Instance":
                    systems[key][tags.get("Role", "host")] += 1
                    members[key].add((s.name, lid))
                elif kind == "AWS::ElasticLoadBalancingV2::LoadBalancer":
                    systems[key]["ALB"] += 1
                    members[key].add((s.name, lid))
        for s in self.stacks:  # a system stands for everything in the stacks that hold its hosts (rules, roles, alarms)
            for key, found in members.items():
                if any(stack == s.name for stack, _ in found):
                    found |= {(s.name, lid) for lid in s.resources}
                    members[key] = found
        return systems, members

    def _tables_and_links(self) -> None:
        """Transit Gateway route tables and the links to the city, in the accounts that own them."""
        d, graph = self.d, self.graph
        for node, segment in sorted(graph.tables.items(), key=lambda kv: kv[0]):
            account = self.account_of[node[0]]
            box = Box(_id("rt", node[0], node[1]), f"TGW table {segment} ({self.where(node[0])})", "hexagon", {node})
            d.box(_id("acct", account), self.account_label(account), box)
            self.table_box[node] = box.id
        for node, attachment in sorted(graph.attachments.items()):
            if attachment.type == "vpc":
                continue
            account = self.account_of[node[0]]
            kind = "Direct Connect" if attachment.type == "direct-connect-gateway" else "VPN"
            label = f"{kind} ({attachment.segment}, {self.where(node[0])})"
            box = Box(_id("link", node[0], node[1]), label, "stadium", {node})
            d.box(_id("acct", account), self.account_label(account), box)
            site = _id("site", str(attachment.segment))
            d.groups.setdefault("onprem", ("city hall / LGWAN", []))
            if not any(b.id == site for b in d.groups["onprem"][1]):
                d.box("onprem", "city hall / LGWAN", Box(site, f"on-premises: {attachment.segment} segment", "stadium"))
            d.edge(site, box.id, "---")
            table = self.table_of(node)
            if table in self.table_box:
                d.edge(box.id, self.table_box[table], "-->")

    def _folds(self) -> dict[tuple[Any, ...], list[Unit]]:
        """(account, region) units with one spoke and a system of the same shape (segment, tables, tiers, roles,
        region), when more than FOLD of them repeat it."""
        signature: dict[Unit, tuple[Any, ...]] = {}
        spokes_of: dict[Unit, list[Node]] = defaultdict(list)
        for node in self.vpcs:
            spokes_of[(self.account_of[node[0]], self.region_of(node))].append(node)
        for unit in {(account, region) for account, _, region in self.systems}:
            nodes = spokes_of.get(unit, [])
            if len(nodes) != 1:
                continue
            info = self.vpcs[nodes[0]]
            attachment = info["attachment"]
            segment = self.graph.attachments[attachment].segment if attachment else None
            roles = tuple(
                sorted(
                    (role, n)
                    for (a, _, r), counter in self.systems.items()
                    if (a, r) == unit
                    for role, n in counter.items()
                )
            )
            signature[unit] = (
                segment,
                self.table_of(attachment),
                self.propagates_to(attachment),
                info["tiers"],
                roles,
                self.where(nodes[0][0]),
            )
        repeated = Counter(signature.values())
        folded: dict[tuple[Any, ...], list[Unit]] = defaultdict(list)
        for unit, sig in sorted(signature.items()):
            if repeated[sig] > FOLD:
                folded[sig].append(unit)
        return folded

    def _vpc_edges(self, box_id: str, attachment: Node | None) -> None:
        table = self.table_of(attachment)
        if table in self.table_box:
            self.d.edge(box_id, self.table_box[table], "-->", "associated")
        for t in sorted(self.propagates_to(attachment)):
            if t in self.table_box and t != table:
                self.d.edge(self.table_box[t], box_id, "-.->", "routes")

    def _spokes(self, folded: set[Unit]) -> None:
        """Each VPC that is not folded, with its system (in the same region) beside it."""
        d = self.d
        for node, info in sorted(self.vpcs.items()):
            account, region = self.account_of[node[0]], self.region_of(node)
            if (account, region) in folded:
                continue
            attachment = info["attachment"]
            segment = self.graph.attachments[attachment].segment if attachment else "not attached"
            label = f"VPC {info['name']} {info['cidr']}<br/>segment {segment} ({self.where(node[0])})"
            if info["tiers"]:
                label += f"<br/>{info['tiers']}"
            members = {node, *self.inside[node], *([attachment] if attachment else [])}
            box = Box(_id("vpc", node[0], node[1]), label, "rect", members)
            d.box(_id("acct", account), self.account_label(account), box)
            self._vpc_edges(box.id, attachment)
            for key, tiers in self.systems.items():
                if key == (account, info["system"], region):
                    sys_id = self.system_id(*key)
                    if not any(b.id == sys_id for _, boxes in d.groups.values() for b in boxes):
                        tier_text = " · ".join(f"{role} ×{n}" for role, n in sorted(tiers.items()))
                        name = key[1] if region == self.primary else f"{key[1]} ({self.where(node[0])})"
                        members = self.system_members[key]
                        box_label = f"{name}<br/>{tier_text}"
                        d.box(
                            _id("acct", account), self.account_label(account), Box(sys_id, box_label, "rect", members)
                        )
                    d.edge(sys_id, box.id, "---")

    def _folded_spokes(self, folded: dict[tuple[Any, ...], list[Unit]]) -> None:
        """One group per fold: one node for its spoke VPCs, one for its systems, named."""
        d = self.d
        for n, (sig, units) in enumerate(sorted(folded.items(), key=lambda kv: kv[1])):
            group = _id("fold", str(n))
            keys = [k for k in self.systems if (k[0], k[2]) in units]
            names = sorted(k[1] for k in keys)
            shown = ", ".join(names[:NAMES_SHOWN]) + (
                f", … (+{len(names) - NAMES_SHOWN})" if len(names) > NAMES_SHOWN else ""
            )
            segment, _, _, subnet_tiers, tiers, region = sig
            in_fold = [node for node in sorted(self.vpcs) if (self.account_of[node[0]], self.region_of(node)) in units]
            members_vpc = {m for node in in_fold for m in (node, self.vpcs[node]["attachment"]) if m}
            first = in_fold[0]
            vpc_id = _id("vpcs", group)
            label = f"{len(units)} spoke VPCs<br/>segment {segment} ({region})<br/>{subnet_tiers}"
            d.box(group, f"{len(units)} business-system accounts", Box(vpc_id, label, "rect", members_vpc))
            self._vpc_edges(vpc_id, self.vpcs[first]["attachment"])
            tier_text = " · ".join(f"{role} ×{k}" for role, k in tiers)
            members_sys = set().union(*(self.system_members[k] for k in keys))
            sys_id = _id("systems", group)
            label = f"{len(names)} systems, each {tier_text}<br/>{shown}"
            d.box(group, f"{len(units)} business-system accounts", Box(sys_id, label, "rect", members_sys))
            d.edge(sys_id, vpc_id, "---")
            for key in keys:
                d.aliases[self.system_id(*key)] = sys_id


def _data_flows(d: Drawing, stacks: list[StackArtifact], systems: Mapping[str, str], lang: str) -> None:
    """Buckets of the data lake, the linkage platform and the log archive; the linkage queues to their systems; who
    writes which bucket (a function's settings naming it) and which bucket replicates to which."""
    bucket_by_name: dict[str, str] = {}
    bucket_by_arn_part: dict[str, str] = {}
    logged_to: set[str] = set()
    for s in stacks:
        for r in s.resources.values():
            if r.get("Type") == "AWS::S3::Bucket":
                target = ((r.get("Properties") or {}).get("LoggingConfiguration") or {}).get("DestinationBucketName")
                logged_to |= {f"{s.name}/{ref}" for ref in _refs(target)}
    for s in stacks:
        for lid, r in s.resources.items():
            kind, props, tags = r.get("Type"), (r.get("Properties") or {}), _tags(r)
            system = tags.get("System", "")
            if system not in ("data-lake", "linkage", "log-archive", "disaster-recovery"):
                continue
            group, group_label = _id("acct", s.account), f"account {s.account}"
            if kind == "AWS::S3::Bucket" and f"{s.name}/{lid}" not in logged_to:
                name = str(props.get("BucketName", lid))
                short = re.sub(r"-\d{12}-ap-northeast-\d$", "", name)
                box = d.box(
                    group,
                    group_label,
                    Box(
                        _id("b", s.name, lid),
                        f"bucket {short}<br/>{word(lang, REGION_NAMES.get(s.region, s.region))}",
                        "cylinder",
                        {(s.name, lid)},
                    ),
                )
                bucket_by_name[name] = box.id
                bucket_by_arn_part[f":::{name}"] = box.id
            elif kind == "AWS::SQS::Queue" and not str(props.get("QueueName", "dead-letters")).endswith("dead-letters"):
                box = d.box(
                    group,
                    group_label,
                    Box(_id("q", s.name, lid), f"queue {props.get('QueueName')}", "stadium", {(s.name, lid)}),
                )
                for sys_id, sys_name in systems.items():
                    if str(props.get("QueueName", "")).endswith(f"-{sys_name}"):
                        d.edge(box.id, sys_id, "-->", "delivers")
            elif kind == "AWS::ApiGateway::RestApi":
                d.box(
                    group,
                    group_label,
                    Box(_id("api", s.name, lid), f"linkage API {props.get('Name', lid)}", "stadium", {(s.name, lid)}),
                )
    for s in stacks:
        for lid, r in s.resources.items():
            kind, props = r.get("Type"), (r.get("Properties") or {})
            if kind == "AWS::Lambda::Function" and _tags(r).get("System") == "linkage":
                env = ((props.get("Environment") or {}).get("Variables")) or {}
                written = sorted({bucket_by_name[v] for v in _strings(env) if v in bucket_by_name})
                if written:
                    box = d.box(
                        _id("acct", s.account),
                        f"account {s.account}",
                        Box(
                            _id("fn", s.name, lid),
                            f"function {lid[:-8] if len(lid) > 8 else lid}",
                            "rect",
                            {(s.name, lid)},
                        ),
                    )
                    for target in written:
                        d.edge(box.id, target, "-->", "writes")
            elif kind == "AWS::S3::Bucket" and _id("b", s.name, lid) in bucket_by_name.values():
                for rule in ((props.get("ReplicationConfiguration") or {}).get("Rules")) or []:
                    destination = str((rule.get("Destination") or {}).get("Bucket", ""))
                    for part, target in bucket_by_arn_part.items():
                        if destination.endswith(part):
                            d.edge(_id("b", s.name, lid), target, "-.->", "replicates")


SHAPES = {"rect": ('["', '"]'), "cylinder": ('[("', '")]'), "stadium": ('(["', '"])'), "hexagon": ('{{"', '"}}')}


def mermaid(assembly: Assembly, stage: str, lang: str = "en", changes: ChangeSet | None = None) -> str:
    """The diagram as Mermaid flowchart text."""
    d = draw(assembly.of_stage(stage), lang)
    added = {(c.stack, c.logical_id) for c in (changes.all() if changes else []) if c.kind == "added"}
    touched = {(c.stack, c.logical_id) for c in (changes.all() if changes else []) if c.kind in ("changed", "replaced")}
    lines = ["flowchart LR"]
    marks: dict[str, list[str]] = {"added": [], "changed": []}
    for group, (group_label, boxes) in sorted(d.groups.items()):
        lines.append(f"  subgraph {group}[{_quote(diagram_label(group_label, lang))}]")
        for box in boxes:
            opening, closing = SHAPES[box.shape]
            lines.append(f"    {box.id}{opening}{diagram_label(box.label, lang).replace(chr(34), '#quot;')}{closing}")
            if box.members and box.members <= added:
                marks["added"].append(box.id)
            elif box.members & (added | touched):
                marks["changed"].append(box.id)
        lines.append("  end")
    known = {b.id for _, boxes in d.groups.values() for b in boxes}
    drawn = set()
    for source, target, arrow, text in d.edges:
        a, b = d.aliases.get(source, source), d.aliases.get(target, target)
        if a in known and b in known and (a, b, arrow, text) not in drawn:
            drawn.add((a, b, arrow, text))
            lines.append(f"  {a} {arrow}{f'|{diagram_label(text, lang)}|' if text else ''} {b}")
    lines += [f"  {c}" for c in CLASSES]
    for name, ids in marks.items():
        if ids:
            lines.append(f"  class {','.join(ids)} {name}")
    return "\n".join(lines) + "\n"


def markdown(assembly: Assembly, stage: str, lang: str = "en", changes: ChangeSet | None = None) -> list[str]:
    return ["```mermaid", *mermaid(assembly, stage, lang, changes).rstrip("\n").split("\n"), "```", ""]
