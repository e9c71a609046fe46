"""Change guard: what a deployment of NEW over OLD would add, change, replace and remove, per stack.

Which property changes force a replacement comes from the CloudFormation resource schemas that cfn-lint ships
(``createOnlyProperties``). A replacement also reaches every resource whose create-only property refers to a
replaced resource (a subnet of a replaced VPC is replaced too). The guard fails when a stateful resource would
be replaced or removed, unless that logical ID is explicitly allowed.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from govcloud.compliance.rules import STATEFUL_TYPES, refers_to
from govcloud.review.assembly import Assembly

# Replacing or removing one of these loses data, or (the network foundations) takes down and re-creates
# everything inside it: the guard stops such a change unless it is explicitly allowed.
GUARDED_TYPES = frozenset(
    (
        *STATEFUL_TYPES,
        "AWS::EC2::Instance",
        "AWS::Glue::Table",
        "AWS::Route53::HostedZone",
        "AWS::EC2::VPC",
        "AWS::EC2::Subnet",
        "AWS::EC2::TransitGateway",
    )
)
SCHEMA_REGION = "ap-northeast-1"
# What to do instead, when a guarded resource would be replaced because one property changed.
REPLACEMENT_HINTS = {
    ("AWS::EC2::Instance", "ImageId"): "a new image reaches a running host by root-volume replacement, which keeps "
    "the instance and its data volume: keep the image the host was created from in the role's launched_from, set "
    "ami to the new one, deploy, then run `python -m govcloud.ops update-image` (README: updating a host's image)",
}


@cache
def _schemas_dir() -> Path:
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("cfn-lint is not installed; it ships the resource schemas (make setup installs it)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "schemas"


@cache
def _schema_index() -> dict[str, str]:
    index: dict[str, str] = json.loads(
        (_schemas_dir() / "providers" / f"{SCHEMA_REGION}.json").read_text(encoding="utf-8")
    )
    return index


@cache
def schema(resource_type: str) -> dict[str, Any]:
    """The CloudFormation resource schema of a type (empty for custom resources and unknown types)."""
    digest = _schema_index().get(resource_type)
    if digest is None:
        return {}
    loaded: dict[str, Any] = json.loads((_schemas_dir() / "resources" / f"{digest}.json").read_text(encoding="utf-8"))
    return loaded


@cache
def create_only(resource_type: str) -> frozenset[str]:
    """Top-level properties whose change replaces a resource of this type (custom resources: none)."""
    paths = schema(resource_type).get("createOnlyProperties", [])
    return frozenset(p.split("/")[2] for p in paths if p.startswith("/properties/"))


@dataclass
class ResourceChange:
    stack: str
    logical_id: str
    type: str
    kind: str  # added | changed | replaced | removed
    details: list[str] = field(default_factory=list)

    @property
    def stateful(self) -> bool:
        return self.type in GUARDED_TYPES

    @property
    def destructive(self) -> bool:
        return self.stateful and self.kind in ("replaced", "removed")

    def render(self) -> str:
        marker = " [stateful]" if self.stateful else ""
        detail = f": {'; '.join(self.details)}" if self.details else ""
        return f"- {self.kind:<8} {self.logical_id} ({self.type}){marker}{detail}"


def _changed_properties(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [k for k in keys if old.get(k) != new.get(k)]


def compare_stack(stack: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[ResourceChange]:
    old_res: Mapping[str, Any] = old.get("Resources", {})
    new_res: Mapping[str, Any] = new.get("Resources", {})
    changes: dict[str, ResourceChange] = {}
    for lid in sorted(set(new_res) - set(old_res)):
        changes[lid] = ResourceChange(stack, lid, new_res[lid]["Type"], "added")
    for lid in sorted(set(old_res) - set(new_res)):
        changes[lid] = ResourceChange(stack, lid, old_res[lid]["Type"], "removed")
    replaced_by_props: set[str] = set()
    for lid in sorted(set(old_res) & set(new_res)):
        before, after = old_res[lid], new_res[lid]
        if before["Type"] != after["Type"]:
            changes[lid] = ResourceChange(
                stack, lid, after["Type"], "replaced", [f"type {before['Type']} -> {after['Type']}"]
            )
            continue
        props = _changed_properties(before.get("Properties", {}), after.get("Properties", {}))
        attrs = [
            a
            for a in ("DeletionPolicy", "UpdateReplacePolicy", "DependsOn", "Condition")
            if before.get(a) != after.get(a)
        ]
        metadata_only = not props and not attrs and before.get("Metadata") != after.get("Metadata")
        if not props and not attrs and not metadata_only:
            continue
        forcing = [p for p in props if p in create_only(after["Type"])]
        if forcing:
            replaced_by_props.add(lid)
        details = [f"{p} (create-only)" if p in forcing else p for p in props] + attrs
        changes[lid] = ResourceChange(stack, lid, after["Type"], "changed", details or ["metadata only"])
    for lid in replaced_by_props:
        changes[lid].kind = "replaced"
    _propagate_replacements(changes, new_res)
    _note_renames(changes, old_res, new_res)
    order = {"replaced": 0, "removed": 1, "changed": 2, "added": 3}
    return sorted(changes.values(), key=lambda c: (order[c.kind], c.logical_id))


def _propagate_replacements(changes: dict[str, ResourceChange], new_res: Mapping[str, Any]) -> None:
    """A create-only property that refers to a replaced resource gets a new value, so its owner is replaced."""
    replaced = {lid for lid, c in changes.items() if c.kind == "replaced"}
    while True:
        more = set()
        for lid, resource in new_res.items():
            if lid in replaced or (lid in changes and changes[lid].kind == "added"):
                continue
            props = resource.get("Properties", {})
            for prop in create_only(resource["Type"]):
                causes = [r for r in replaced if refers_to(props.get(prop), r)]
                if causes:
                    change = changes.setdefault(
                        lid, ResourceChange(changes[causes[0]].stack, lid, resource["Type"], "changed")
                    )
                    change.kind = "replaced"
                    change.details.append(f"{prop} refers to replaced {causes[0]}")
                    more.add(lid)
                    break
        if not more:
            return
        replaced |= more


def _note_renames(changes: dict[str, ResourceChange], old_res: Mapping[str, Any], new_res: Mapping[str, Any]) -> None:
    """A logical ID that disappears while one of the same type and properties appears: a rename, i.e. a replacement."""
    removed = [c for c in changes.values() if c.kind == "removed"]
    added = [c for c in changes.values() if c.kind == "added"]
    for gone in removed:
        for new in added:
            if gone.type == new.type and old_res[gone.logical_id].get("Properties") == new_res[new.logical_id].get(
                "Properties"
            ):
                gone.details.append(f"renamed to {new.logical_id}: CloudFormation creates a new resource")
                new.details.append(f"renamed from {gone.logical_id}")


@dataclass
class ChangeSet:
    by_stack: dict[str, list[ResourceChange]]
    stacks_added: list[str]
    stacks_removed: list[str]

    def all(self) -> Iterable[ResourceChange]:
        for changes in self.by_stack.values():
            yield from changes

    def blocking(self, allowed: Iterable[str]) -> list[ResourceChange]:
        allow = set(allowed)
        return [
            c
            for c in self.all()
            if c.destructive and c.logical_id not in allow and f"{c.stack}/{c.logical_id}" not in allow
        ]


def compare(old: Assembly, new: Assembly) -> ChangeSet:
    before, after = old.by_name(), new.by_name()
    by_stack = {}
    for name in sorted(set(before) | set(after)):
        old_template = before[name].template if name in before else {}
        new_template = after[name].template if name in after else {}
        changes = compare_stack(name, old_template, new_template)
        if changes:
            by_stack[name] = changes
    return ChangeSet(
        by_stack=by_stack,
        stacks_added=sorted(set(after) - set(before)),
        stacks_removed=sorted(set(before) - set(after)),
    )


def render(changes: ChangeSet, allowed: Iterable[str] = ()) -> tuple[str, bool]:
    """The change list as text, and whether the guard passes."""
    allowed = list(allowed)
    lines = ["# Changes", ""]
    if not changes.by_stack:
        lines.append("No resource changes.")
    for name, stack_changes in changes.by_stack.items():
        suffix = (
            " (new stack)"
            if name in changes.stacks_added
            else " (stack removed)"
            if name in changes.stacks_removed
            else ""
        )
        counts = {k: sum(1 for c in stack_changes if c.kind == k) for k in ("added", "changed", "replaced", "removed")}
        summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
        lines += [f"## {name}{suffix}: {summary}", ""]
        lines += [c.render() for c in stack_changes]
        lines.append("")
    blocking = changes.blocking(allowed)
    allowed_destructive = [c for c in changes.all() if c.destructive and c not in blocking]
    if allowed_destructive:
        lines.append("Allowed explicitly: " + ", ".join(f"{c.stack}/{c.logical_id}" for c in allowed_destructive))
    if blocking:
        lines += [
            f"GUARD FAILED: {len(blocking)} guarded resource(s) would be replaced or removed (data or network lost):",
            *(f"  {c.stack}/{c.logical_id} ({c.type}, {c.kind})" for c in blocking),
            *sorted(
                {
                    f"Hint ({c.type} {prop}): {hint}"
                    for c in blocking
                    for (rtype, prop), hint in REPLACEMENT_HINTS.items()
                    if c.type == rtype and f"{prop} (create-only)" in c.details
                }
            ),
            "If this is planned (data moved first), rerun with --allow STACK/LOGICAL_ID for each.",
        ]
    else:
        lines.append("Guard passed: no guarded resource is replaced or removed.")
    return "\n".join(lines) + "\n", not blocking
