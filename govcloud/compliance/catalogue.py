"""Print the catalogue of the Government Cloud rule pack as Markdown: ``python -m govcloud.compliance.catalogue``.

``docs/RULES.md`` is this output; a test keeps the two in step.
"""

from __future__ import annotations

from govcloud.compliance.rules import PACK_NAME, RULES


def render() -> str:
    lines = [
        "# Government Cloud rule pack",
        "",
        f"The `{PACK_NAME}` pack runs on every `cdk synth` beside cdk-nag's AwsSolutions and NIST 800-53 rev 5 packs.",
        "An unacknowledged finding fails the synth. To accept one, acknowledge that rule on that construct, next to",
        "the code that creates it, with a reason a reviewer can check:",
        "",
        "```python",
        'acknowledge(construct, "GovCloud::GC-S3-4", "reason")',
        "```",
        "",
        "The acknowledgement is written into the template (`Metadata.govcloud.rules_acknowledged`).",
        "Generated from `govcloud/compliance/rules.py` by `python -m govcloud.compliance.catalogue`.",
        "",
        "| id | rule | why | control |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {r.id} | {r.info} | {r.explanation} | {r.control} |" for r in RULES]
    lines += [
        "",
        "## 日本語",
        "",
        "ガバメントクラウド用の独自ルールです。`cdk synth` のたびに cdk-nag と並んで実行され、",
        "未承認の指摘があると合成は失敗します。承認は",
        '`acknowledge(コンストラクト, "GovCloud::ルールID", 理由)` で 1 ルール・1 コンストラクトずつ行い、',
        "テンプレートのメタデータに記録されます。",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
