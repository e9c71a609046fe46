"""Synthesize the app in-process with exactly the context the CDK CLI gives it, and read the result as JSON."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from govcloud.compliance import packs as compliance
from govcloud.config import Config
from govcloud.stage import GovCloudStage

ROOT = Path(__file__).resolve().parent.parent


def cli_context() -> dict[str, Any]:
    """cdk.json's context plus the keys the CLI (2.1148) adds from cdk.json's settings."""
    settings = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))
    context = dict(settings["context"])
    if settings.get("versionReporting") is False:
        context["aws:cdk:disable-version-reporting"] = True
    context["aws:cdk:bundling-stacks"] = ["**"]
    context["@aws-cdk/core:failSynthOnValidationErrors"] = False
    return context


@dataclass
class Synth:
    """One synthesized environment: the live app (for validate_scope) and its templates as plain JSON."""

    app: cdk.App
    stage: GovCloudStage
    outdir: Path
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Stack name -> template."""
    template_files: dict[str, Path] = field(default_factory=dict)
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Stack name -> its artifact in the assembly manifest (environment, dependencies, termination protection)."""

    def template(self, stack_name: str) -> dict[str, Any]:
        return self.templates[stack_name]

    def resources(self, stack_name: str, type_: str | None = None) -> dict[str, dict[str, Any]]:
        res = self.templates[stack_name]["Resources"]
        return {k: v for k, v in res.items() if type_ is None or v["Type"] == type_}

    def all_resources(self, type_: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        return [(s, k, v) for s in self.templates for k, v in self.resources(s, type_).items()]


def props(resource: dict[str, Any]) -> dict[str, Any]:
    """A template resource's properties (empty when it has none)."""
    return resource.get("Properties", {})


def synth(cfg: Config, outdir: Path, *, packs: bool = True) -> Synth:
    """``packs=False`` leaves the compliance packs out (about 40 % of a synth): for tests of the templates'
    structure at scale, where the shipped environments' synths already hold every pack to zero findings."""
    app = cdk.App(context=cli_context(), outdir=str(outdir))
    stage = GovCloudStage(app, cfg)
    if packs:
        compliance.register(stage, compliance.settings_for(cfg))
    app.synth()
    result = Synth(app=app, stage=stage, outdir=outdir)
    for manifest_path in sorted(outdir.glob("assembly-*/manifest.json")):
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        for artifact in manifest["artifacts"].values():
            if artifact["type"] == "aws:cloudformation:stack":
                path = manifest_path.parent / artifact["properties"]["templateFile"]
                name = artifact["properties"].get("stackName") or artifact["displayName"]
                result.templates[name] = json.loads(path.read_text(encoding="utf-8"))
                result.template_files[name] = path
                result.artifacts[name] = artifact
    return result


def run_cdk(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the pinned CDK CLI from the project root with the virtualenv's Node, and no AWS credentials."""
    bin_dir = str(Path(sys.executable).parent)
    base = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
    }
    return subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "cdk"), *args],
        cwd=ROOT,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@dataclass
class CliRun:
    """A CDK CLI run of one test: its result and the directory it worked in."""

    directory: Path
    result: subprocess.CompletedProcess[str] | None = None


class CliRuns:
    """The CLI runs that tests declare with ``@pytest.mark.cdk_cli(...)``, started one after another on a thread as
    soon as the tests are collected: each is a Node and Python process of its own, so it runs on the second core
    while the suite goes on in this one, and its test only waits for what is not done yet. ``{dir}`` in an argument
    or an environment value is the run's own directory; ``prepare(directory)`` runs first (to write its input)."""

    def __init__(self) -> None:
        self.runs: dict[str, CliRun] = {}
        self.order: list[tuple[str, tuple[str, ...], dict[str, Any]]] = []
        self.done: dict[str, threading.Event] = {}
        self.errors: dict[str, BaseException] = {}
        self.root = Path(tempfile.mkdtemp(prefix="cdk-cli-"))

    def schedule(self, key: str, args: tuple[str, ...], options: dict[str, Any]) -> None:
        directory = self.root / f"run{len(self.order)}"
        directory.mkdir()
        self.runs[key] = CliRun(directory)
        self.done[key] = threading.Event()
        self.order.append((key, args, options))

    def start(self) -> None:
        threading.Thread(target=self._work, daemon=True).start()

    def _work(self) -> None:
        for key, args, options in self.order:
            run = self.runs[key]
            try:
                prepare = options.get("prepare")
                if prepare is not None:
                    prepare(run.directory)
                fill = {"dir": str(run.directory)}
                env = {k: v.format(**fill) for k, v in (options.get("env") or {}).items()}
                run.result = run_cdk(*(a.format(**fill) for a in args), env=env)
            except BaseException as error:  # reported by the test that waits for it
                self.errors[key] = error
            finally:
                self.done[key].set()

    def wait(self, key: str) -> CliRun:
        if key not in self.runs:
            raise RuntimeError(f"{key}: no @pytest.mark.cdk_cli run was scheduled for this test")
        self.done[key].wait(timeout=600)
        if key in self.errors:
            raise self.errors[key]
        return self.runs[key]

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def admitted_roles(statement: dict[str, Any]) -> set[str]:
    """The roles a resource-policy statement admits: named as principals, or (the form a policy may use before the
    roles exist) as the ``aws:PrincipalArn`` of principals from their accounts."""
    principal = statement.get("Principal", {})
    named = principal.get("AWS", []) if isinstance(principal, dict) else []
    named = [named] if isinstance(named, str) else named
    roles = {n for n in named if ":role/" in n}
    by_condition = statement.get("Condition", {}).get("ArnEquals", {}).get("aws:PrincipalArn", [])
    by_condition = [by_condition] if isinstance(by_condition, str) else by_condition
    accounts = {n.split(":")[4] for n in named if n.endswith(":root")}
    roles |= {arn for arn in by_condition if arn.split(":")[4] in accounts}
    return roles


def output_target(synth: Synth, value: Any) -> tuple[str, Any]:
    """What a ``Fn::GetStackOutput`` reads: the producing stack, and the output's value there (a Ref or GetAtt)."""
    read = value["Fn::GetStackOutput"]
    return read["StackName"], synth.template(read["StackName"])["Outputs"][read["OutputName"]]["Value"]
