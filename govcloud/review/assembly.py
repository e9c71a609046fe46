"""Read a cloud assembly directory: its stages, stacks, templates and validation report."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class AssemblyError(Exception):
    """The directory is not a readable cloud assembly."""


@dataclass(frozen=True)
class StackArtifact:
    name: str
    stage: str
    account: str
    region: str
    termination_protection: bool
    description: str
    template: dict[str, Any]
    template_path: Path
    artifact_id: str = ""
    display_name: str = ""
    """The stack's ID on the CDK command line, e.g. ``KobeStg/NetworkHub`` (not the CloudFormation stack name)."""
    depends_on: tuple[str, ...] = ()
    """Artifact IDs of the stacks this one deploys after (direct dependencies, as in the manifest)."""
    execution_role_arn: str = ""
    """The role CloudFormation deploys this stack with (the CDK bootstrap's execution role)."""

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template.get("Resources", {})
        return resources


@dataclass(frozen=True)
class Assembly:
    root: Path
    stacks: list[StackArtifact] = field(default_factory=list)
    validation_report: dict[str, Any] | None = None

    def stages(self) -> list[str]:
        return sorted({s.stage for s in self.stacks})

    def of_stage(self, stage: str) -> list[StackArtifact]:
        return [s for s in self.stacks if s.stage == stage]

    def by_name(self) -> dict[str, StackArtifact]:
        return {s.name: s for s in self.stacks}

    def dependencies(self, stack: StackArtifact) -> set[str]:
        """Names of every stack that ``stack`` deploys after, directly or through others."""
        by_id = {s.artifact_id: s for s in self.stacks}
        seen: set[str] = set()
        todo = list(stack.depends_on)
        while todo:
            artifact_id = todo.pop()
            producer = by_id.get(artifact_id)
            if producer is None or producer.name in seen:
                continue
            seen.add(producer.name)
            todo.extend(producer.depends_on)
        return seen

    def deploy_order(self) -> list[StackArtifact]:
        """The stacks in an order ``cdk deploy`` may use: every stack after the stacks it depends on (ties by name)."""
        by_id = {s.artifact_id: s for s in self.stacks}
        done: set[str] = set()
        order: list[StackArtifact] = []
        pending = sorted(self.stacks, key=lambda s: s.name)
        while pending:
            ready = [s for s in pending if all(d in done or d not in by_id for d in s.depends_on)]
            if not ready:
                raise AssemblyError(f"dependency cycle among {', '.join(s.name for s in pending)}")
            for stack in ready:
                done.add(stack.artifact_id)
                order.append(stack)
            pending = [s for s in pending if s.artifact_id not in done]
        return order


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AssemblyError(f"{path}: not found; is this a cdk.out directory (run make synth)?") from None
    except json.JSONDecodeError as error:
        raise AssemblyError(f"{path}: not valid JSON ({error})") from None


def _stacks_in(directory: Path, stage: str) -> list[StackArtifact]:
    manifest = _read_json(directory / "manifest.json")
    stacks = []
    for artifact_id, artifact in sorted(manifest.get("artifacts", {}).items()):
        kind = artifact.get("type")
        properties = artifact.get("properties", {})
        if kind == "cdk:cloud-assembly":
            nested = directory / properties["directoryName"]
            stacks.extend(_stacks_in(nested, properties.get("displayName") or artifact_id))
        elif kind == "aws:cloudformation:stack":
            path = directory / properties["templateFile"]
            template = _read_json(path)
            _, account, region = ([*artifact.get("environment", "aws:///").split("/"), "", "", ""])[1:4]
            stacks.append(
                StackArtifact(
                    name=properties.get("stackName") or artifact.get("displayName") or artifact_id,
                    stage=stage,
                    account=account,
                    region=region,
                    termination_protection=bool(properties.get("terminationProtection", False)),
                    description=str(template.get("Description", "")),
                    template=template,
                    template_path=path,
                    artifact_id=artifact_id,
                    display_name=artifact.get("displayName", ""),
                    depends_on=tuple(d for d in artifact.get("dependencies", []) if not d.endswith(".assets")),
                    execution_role_arn=str(properties.get("cloudFormationExecutionRoleArn", "")).replace(
                        "${AWS::Partition}", "aws"
                    ),
                )
            )
    return stacks


def load(cdk_out: str | Path) -> Assembly:
    root = Path(cdk_out)
    if not root.is_dir():
        raise AssemblyError(f"{root}: not a directory; give the path of a synthesized cdk.out")
    report_path = root / "validation-report.json"
    report = _read_json(report_path) if report_path.is_file() else None
    return Assembly(root=root, stacks=_stacks_in(root, "(app)"), validation_report=report)
