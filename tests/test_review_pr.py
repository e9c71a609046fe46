"""The pull-request review, the diagram and the inventory report's rendering, on handcrafted base and head
assemblies and on the real one."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.scale import typical_change
from govcloud.review import diagram, pr, report
from govcloud.review.__main__ import main
from govcloud.review.assembly import load
from tests.mermaid_grammar import check as mermaid_problems
from tests.support import ROOT
from tests.test_review import BASE, write_assembly

SYSTEMS_AT_SCALE = 20
SIZE_BUDGET = 20 * 1024


def sections(text: str) -> dict[tuple[str, str], list[str]]:
    """(stack heading, section heading) -> the +/- lines of its diff block."""
    out: dict[tuple[str, str], list[str]] = {}
    stack = section = ""
    for line in text.splitlines():
        if line.startswith("### "):
            stack, section = line[4:].strip("`"), ""
        elif line.startswith("#### "):
            section = line[5:]
        elif line[:2] in ("+ ", "- ") and section:
            out.setdefault((stack, section), []).append(line)
    return out


def head_with_every_kind_of_change() -> dict[str, dict[str, Any]]:
    head = copy.deepcopy(BASE)
    net, data = head["Env-Net"]["Resources"], head["Env-Data"]["Resources"]
    net["Group"]["Properties"]["SecurityGroupIngress"].append(
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "CidrIp": "10.2.0.0/16"}
    )
    del net["Route"]
    net["Role"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}
    )
    net["Host"] = {
        "Type": "AWS::EC2::Instance",
        "Properties": {
            "InstanceType": "m6i.large",
            "Tags": [{"Key": "OperatingSystem", "Value": "amazon-linux-2023"}],
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 30, "VolumeType": "gp3"}}],
        },
    }
    bucket = data["Bucket"]
    bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] = {"SSEAlgorithm": "AES256"}
    data["Key"]["DeletionPolicy"] = "Delete"
    bucket["Metadata"]["cdk_nag"]["rules_to_suppress"].append({"id": "AwsSolutions-S10", "reason": "Tested."})
    return head


FINDING = {
    "pluginReports": [
        {
            "pluginName": "GovCloud",
            "violations": [{"ruleName": "GC-S3-4", "violatingConstructs": [{"constructPath": "Env/Data/Bucket"}]}],
        }
    ]
}


def test_each_kind_of_change_lands_in_its_section_with_its_sign(tmp_path) -> None:
    base = load(write_assembly(tmp_path / "base", BASE, report_json={"pluginReports": []}))
    head = load(write_assembly(tmp_path / "head", head_with_every_kind_of_change(), report_json=FINDING))
    text = pr.render(pr.review(base, head), head)
    found = sections(text)
    assert found[("Env-Net", "Network exposure")] == [
        "- route table -: 172.16.0.0/12 -> TransitGateway tgw-0123",
        "+ Group ingress tcp 5432 from 10.2.0.0/16",
    ]
    assert found[("Env-Net", "IAM")] == ["+ role Role: Allow kms:* on * [needs a look]"]
    assert found[("Env-Data", "Encryption")] == [
        "- Bucket (AWS::S3::Bucket): aws:kms Key",
        "+ Bucket (AWS::S3::Bucket): SSE-S3 (AWS-owned key)",
    ]
    assert found[("Env-Data", "Stateful resources")] == [
        "- Key (AWS::KMS::Key): on delete Retain, on replace Retain",
        "+ Key (AWS::KMS::Key): on delete Delete, on replace Retain [needs a look]",
    ]
    assert found[("Env-Data", "Acknowledgements")] == ["+ Bucket AwsSolutions-S10: Tested."]
    assert found[("The environment as a whole", "Compliance findings")] == [
        "+ UNACKNOWLEDGED GovCloud GC-S3-4 on 1 resource(s) [needs a look]"
    ]
    # the host is priced from the templates: 730 h x 0.124 USD + 30 GB x 0.096 USD
    assert "- m6i.large host, Linux (Tokyo): 0 -> 1 = +90.52 USD" in text
    assert "- EBS gp3 GB-month (Tokyo): 0 -> 30 = +2.88 USD" in text
    assert "| Env | 2 / 2 | +1 -1 | +1 -0 | +1 -1 | +2 -1 | +1 -0 | +1 -0 | +93.40 USD |" in text
    assert text.splitlines()[2] == "**Change guard: passed (no guarded resource is replaced or removed)**"


def test_a_failed_guard_is_the_first_thing_said_and_fails_the_command(tmp_path) -> None:
    head = copy.deepcopy(BASE)
    head["Env-Data"]["Resources"]["Bucket"]["Properties"]["BucketName"] = "renamed"
    base_dir, head_dir = write_assembly(tmp_path / "b", BASE), write_assembly(tmp_path / "h", head)
    out = tmp_path / "review.md"
    assert main(["pr", str(base_dir), str(head_dir), "--out", str(out)]) == 1
    lines = out.read_text().splitlines()
    assert lines[2].startswith("**Change guard: FAILED (1 guarded resource(s)")
    assert lines[3] == "- Env-Data/Bucket (AWS::S3::Bucket, replaced)"
    assert main(["pr", str(base_dir), str(head_dir), "--allow", "Env-Data/Bucket", "--out", str(out)]) == 0
    assert main(["pr", str(base_dir), str(base_dir), "--lang", "ja", "--out", str(out)]) == 0
    assert "変更ガード: 合格" in out.read_text()


def test_japanese_review_says_the_same_changes(tmp_path) -> None:
    base = load(write_assembly(tmp_path / "base", BASE))
    head = load(write_assembly(tmp_path / "head", head_with_every_kind_of_change(), report_json=FINDING))
    reviews = pr.review(base, head)
    english, japanese = pr.render(reviews, head, "en"), pr.render(reviews, head, "ja")
    found = sections(japanese)
    assert found[("Env-Net", "ネットワークの公開範囲")][1] == "+ Group 受信 tcp 5432 送信元 10.2.0.0/16"
    assert found[("Env-Net", "IAM")] == ["+ ロール Role: 許可 kms:* 対象 * [要確認]"]
    assert [len(v) for v in sections(english).values()] == [len(v) for v in found.values()]
    assert "- m6i.large ホスト、Linux (東京): 0 -> 1 = +90.52 USD" in japanese
    assert "追加 `Host` (AWS::EC2::Instance) **[ステートフル]**" in japanese


def scaled(source: Path, target: Path, systems: int) -> Path:
    """The real staging assembly with its business system's stacks copied into ``systems - 1`` more accounts."""
    shutil.copytree(source, target)
    nested = next(target.glob("assembly-*"))
    manifest = json.loads((nested / "manifest.json").read_text())
    originals = {
        k: a
        for k, a in manifest["artifacts"].items()
        if a["type"] == "aws:cloudformation:stack" and "ResidentRegistry" in k
    }
    for n in range(2, systems + 1):
        for key, artifact in originals.items():
            clone = copy.deepcopy(artifact)
            new_key = key.replace("ResidentRegistry", f"System{n:02d}")
            template = (nested / artifact["properties"]["templateFile"]).read_text()
            template = template.replace("resident-registry", f"system-{n:02d}").replace(
                "111100000003", f"1111000001{n:02d}"
            )
            file = artifact["properties"]["templateFile"].replace("ResidentRegistry", f"System{n:02d}")
            (nested / file).write_text(template)
            clone["properties"]["templateFile"] = file
            clone["properties"]["stackName"] = clone["properties"]["stackName"].replace(
                "ResidentRegistry", f"System{n:02d}"
            )
            clone["displayName"] = clone["displayName"].replace("ResidentRegistry", f"System{n:02d}")
            clone["environment"] = clone["environment"].replace("111100000003", f"1111000001{n:02d}")
            clone["dependencies"] = []
            manifest["artifacts"][new_key] = clone
    (nested / "manifest.json").write_text(json.dumps(manifest))
    return target


@pytest.fixture(scope="module")
def at_scale(stg, tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("scale")
    base = scaled(stg.outdir, root / "base", SYSTEMS_AT_SCALE)
    head = root / "head"
    shutil.copytree(base, head)
    typical_change(head)
    return base, head


def test_a_typical_change_at_20_systems_renders_under_20_kb(at_scale) -> None:
    base, head = (load(p) for p in at_scale)
    assert len([s for s in head.stacks if s.name.startswith("KobeStg-System-")]) == SYSTEMS_AT_SCALE
    for lang in ("en", "ja"):
        text = pr.render(pr.review(base, head), head, lang)
        size = len(text.encode("utf-8"))
        assert size < SIZE_BUDGET, f"{lang}: {size} bytes"
    text = pr.render(pr.review(base, head), head)
    assert "+ WebSecurityGroup73AF7387 ingress tcp 9443 from 172.16.0.0/16" in text
    assert "+ SandboxBucket (AWS::S3::Bucket): aws:kms" in text
    assert f"Unchanged: {len(head.stacks) - 2} stack(s)." in text
    block = text.split("```mermaid\n")[1].split("```")[0]
    assert mermaid_problems(block) == []
    # the new bucket is marked as added; the 19 copied systems fold into one group
    assert re.search(r"class [^ ]*b_KobeStg_DataLake_SandboxBucket[^ ]* added", block)
    assert "19 business-system accounts" in block


def test_the_diagrams_of_the_shipped_environments_parse(stg, prod) -> None:
    for synth in (stg, prod):
        assembly = load(synth.outdir)
        for stage in assembly.stages():
            for lang in ("en", "ja"):
                text = diagram.mermaid(assembly, stage, lang)
                assert mermaid_problems(text) == [], stage
    production = load(prod.outdir)
    osaka = diagram.mermaid(production, production.stages()[0])
    assert "TGW table mynumber (Osaka)" in osaka and "TGW table mynumber (Tokyo)" in osaka
    # the Osaka load balancer is the pilot light's, beside Osaka's spoke: not a second one of the Tokyo system
    assert "resident-registry (Osaka)<br/>ALB ×1" in osaka and "ALB ×2" not in osaka


def test_mermaids_own_parser_reads_every_diagram(stg, prod, at_scale, tmp_path) -> None:
    """The npm package's parser, on the shipped environments in both languages and on 20 systems with a change
    marked; and it rejects a broken edge (so the check can fail)."""
    files = []
    for name, (assembly, changes) in {
        "stg": (load(stg.outdir), None),
        "prod": (load(prod.outdir), None),
        "twenty": (load(at_scale[1]), pr.review(load(at_scale[0]), load(at_scale[1]))[0].changes),
    }.items():
        for lang in ("en", "ja"):
            path = tmp_path / f"{name}.{lang}.mmd"
            path.write_text(diagram.mermaid(assembly, assembly.stages()[0], lang, changes), encoding="utf-8")
            files.append(path)
    broken = tmp_path / "broken.mmd"
    broken.write_text('flowchart LR\n  a["x"] -->|y| b\n  a -->\n', encoding="utf-8")
    node = Path(sys.executable).parent / "node"
    result = subprocess.run(
        [str(node), str(ROOT / "tests" / "mermaid_parse.mjs"), *map(str, files), str(broken)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert [lines[str(f)] for f in files] == ["ok flowchart-v2"] * len(files), result.stdout + result.stderr
    assert lines[str(broken)].startswith("FAILED Parse error") and result.returncode == 1


def test_the_grammar_check_rejects_undefined_nodes_open_subgraphs_and_raw_quotes() -> None:
    assert mermaid_problems('flowchart LR\n  a["x"]\n  a --> b') == ["line 3: b is not a defined node"]
    assert mermaid_problems('flowchart LR\n  subgraph g["x"]\n  a["y"]') == ["1 subgraph(s) not closed"]
    assert mermaid_problems('flowchart LR\n  a["say "hi""]')[0].startswith("line 2: not in the grammar")


def test_the_committed_diagram_of_the_default_environment_is_current(stg) -> None:
    for lang, path in (("en", "docs/diagram.md"), ("ja", "docs/ja/diagram.md")):
        committed = (Path(__file__).resolve().parent.parent / path).read_text(encoding="utf-8")
        drawn = "\n".join(diagram.markdown(load(stg.outdir), "KobeStg", lang))
        assert drawn in committed, f"{path} is stale: python -m govcloud.review diagram cdk.out --lang {lang}"


def test_the_job_summary_folds_the_other_language_and_fits_githubs_limit() -> None:
    japanese, english = "# レビュー\n\n" + "あ\n" * 10, "# Review\n\n```diff\n" + "+ line\n" * 200_000 + "```\n"
    summary = pr.job_summary(japanese, [("English", english)], "ja")
    assert summary.startswith("# レビュー") and "<details><summary>English</summary>" in summary
    assert len(summary.encode("utf-8")) <= pr.SUMMARY_LIMIT
    assert summary.count("```") % 2 == 0 and summary.count("<details>") == summary.count("</details>")
    assert "1 MiB" in summary
    short = pr.job_summary(japanese, [("English", "# Review\n")], "ja")
    assert "切り詰め" not in short and short.endswith("</details>\n")


# ----- the inventory report's rendering -----


def test_pack_counts_keep_findings_with_double_colons_whole() -> None:
    assert report.pack_of("AwsSolutions-IAM5[Resource::arn:aws:s3:::bucket/*]") == "AwsSolutions"
    assert report.pack_of("GovCloud::GC-S3-1") == "GovCloud"
    assert report.pack_of("NIST.800.53.R5-IAMNoInlinePolicy") == "NIST.800.53.R5"


def test_ports_placeholders_and_principals_read_as_words(stg) -> None:
    text = report.render(load(stg.outdir), "KobeStg")
    assert '{"From"' not in text and "252-86 | 255.255.255.255/32" not in text
    assert "| egress | none | - | no egress at all (CDK's placeholder rule" in text
    assert "Fn::GetAtt" not in text
    assert (
        "| HostIdentityWebRole531873CA | service ec2.amazonaws.com (when StringEquals aws:SourceAccount=111100000003) |"
        in text
    )
    assert re.search(r"\| ingress \| \d+ \| allow \| tcp \| 443 \| ", text)


def test_the_report_has_contents_and_a_file_per_stack(stg) -> None:
    assembly = load(stg.outdir)
    text = report.render(assembly, "KobeStg")
    assert "## Contents" in text and "- [Stack KobeStg-NetworkHub](#stack-kobestg-networkhub)" in text
    files = report.files(assembly, "KobeStg", "ja")
    assert set(files) == {
        "review-KobeStg.ja.md",
        *(f"review-KobeStg/{s.name}.ja.md" for s in assembly.of_stage("KobeStg")),
    }
    index = files["review-KobeStg.ja.md"]
    assert "- [KobeStg-NetworkHub](review-KobeStg/KobeStg-NetworkHub.ja.md)" in index


def test_every_heading_and_column_of_the_japanese_report_is_japanese(stg) -> None:
    text = report.render(load(stg.outdir), "KobeStg", "ja")
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("#"):
            title = line.lstrip("# ")
            assert re.search(r"[^\x00-\x7f]", title) or title in ("IAM",), line
        if line.startswith("| ") and index + 1 < len(lines) and lines[index + 1].startswith("| ---"):
            for cell in (c.strip() for c in line.strip("|").split("|")):
                assert re.search(r"[^\x00-\x7f]", cell) or cell in ("CIDR", "ID", "Transit Gateway"), cell
