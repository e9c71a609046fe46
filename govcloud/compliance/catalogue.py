"""Print the catalogue of the Government Cloud rule pack as Markdown:
``python -m govcloud.compliance.catalogue [--lang ja]``.

``docs/RULES.md`` and ``docs/ja/RULES.md`` are this output; a test keeps them in step.
"""

from __future__ import annotations

import sys

from govcloud.compliance.rules import PACK_NAME, RULES


def render(lang: str = "en") -> str:
    if lang == "ja":
        lines = [
            "# ガバメントクラウド用ルールパック",
            "",
            "[English](../RULES.md)",
            "",
            f"`{PACK_NAME}` パックは、`cdk synth` のたびに cdk-nag の AwsSolutions と",
            "NIST 800-53 rev 5 のパックと並んで実行されます。承認されていない指摘があると合成は",
            "失敗します。指摘を受け入れるには、そのリソースを作るコードのそばで、そのコンストラクトの",
            "そのルールを 1 つずつ、レビューする人が確かめられる理由を付けて承認します。",
            "",
            "```python",
            'acknowledge(construct, "GovCloud::GC-S3-4", "理由")',
            "```",
            "",
            "承認はテンプレート（`Metadata.govcloud.rules_acknowledged`）に書き込まれます。",
            "`govcloud/compliance/rules.py` から",
            "`python -m govcloud.compliance.catalogue --lang ja` で生成しています。",
            "",
            "| ID | ルール | 理由 | 根拠 |",
            "| --- | --- | --- | --- |",
        ]
        lines += [f"| {r.id} | {r.info_ja} | {r.explanation_ja} | {r.control} |" for r in RULES]
        return "\n".join(lines) + "\n"
    lines = [
        "# Government Cloud rule pack",
        "",
        "[日本語](ja/RULES.md)",
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
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render("ja" if sys.argv[1:] == ["--lang", "ja"] else "en"), end="")
