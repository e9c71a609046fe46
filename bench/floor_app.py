"""The floor of a synth: CDK producing the same templates with no code of ours around them.

Reads an assembly synthesized by ``app.py`` (``BENCH_ASSEMBLY``), includes every template as it is
(``cloudformation_include.CfnInclude``) in stacks of the same names, accounts and regions, and registers the same
packs. ``make bench`` divides the project's synth time by this one: what our constructs, config and checks add over
the cost of the templates themselves. ``CfnInclude`` cannot read ``Fn::GetStackOutput``, so each such reference is
replaced by a literal of the same shape first. The packs' verdicts are ignored: CfnInclude carries the templates'
metadata, not the acknowledgements on our constructs.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import cloudformation_include as cfn_inc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from govcloud.compliance import packs as compliance
from govcloud.config import load, resolve


def literal_outputs(node: Any) -> Any:
    """The template with every ``Fn::GetStackOutput`` replaced by a literal (CfnInclude cannot parse it)."""
    if isinstance(node, dict):
        if set(node) == {"Fn::GetStackOutput"}:
            read = node["Fn::GetStackOutput"]
            return f"{read.get('StackName')}.{read.get('OutputName')}"
        return {k: literal_outputs(v) for k, v in node.items()}
    if isinstance(node, list):
        return [literal_outputs(v) for v in node]
    return node


def main() -> int:
    assembly = Path(os.environ["BENCH_ASSEMBLY"])
    cfg = load(resolve(None, os.environ.get("BENCH_CONFIG")))
    app = cdk.App()
    stage = cdk.Stage(app, cfg.prefix)
    with tempfile.TemporaryDirectory() as work:
        for manifest_path in sorted(assembly.glob("assembly-*/manifest.json")):
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            for artifact in manifest["artifacts"].values():
                if artifact["type"] != "aws:cloudformation:stack":
                    continue
                template = json.loads((manifest_path.parent / artifact["properties"]["templateFile"]).read_text())
                path = Path(work) / artifact["properties"]["templateFile"]
                # The stack's own synthesizer adds the bootstrap version parameter and rule again.
                template.get("Parameters", {}).pop("BootstrapVersion", None)
                template.get("Rules", {}).pop("CheckBootstrapVersion", None)
                path.write_text(json.dumps(literal_outputs(template)), encoding="utf-8")
                account, region = artifact["environment"].removeprefix("aws://").split("/")
                stack = cdk.Stack(
                    stage,
                    artifact["displayName"].split("/", 1)[1],
                    stack_name=artifact["properties"]["stackName"],
                    env=cdk.Environment(account=account, region=region),
                )
                cfn_inc.CfnInclude(stack, "Template", template_file=str(path))
        compliance.register(stage, compliance.settings_for(cfg))
        app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
