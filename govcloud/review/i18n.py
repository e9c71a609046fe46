"""The review tools' words in English and Japanese: fact phrases, section names and fixed sentences.

Names from the templates (logical IDs, CIDRs, actions, rule IDs) stay as they are in both languages.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("en", "ja")

PHRASES: Mapping[str, Mapping[str, str]] = {
    "en": {
        "sg_rule": "{group} {direction} {protocol} {ports} {peer_word} {peer}",
        "no_egress": "{group} egress: none "
        "(CDK's placeholder rule icmp 252-86 to 255.255.255.255/32 matches no packet)",
        "nacl": "NACL {acl} {direction} #{number} {action} {protocol} {ports} {cidr}",
        "route": "route table {table}: {destination} -> {target}",
        "tgw_route": "Transit Gateway table {table}: {destination} -> {target}",
        "endpoint": "endpoint {service} ({type}) in {vpc}",
        "internet": "INTERNET PATH {resource} ({type})",
        "dx_prefixes": "Direct Connect gateway {gateway} is advertised {prefixes}",
        "customer_gateway": "VPN customer gateway {address} (ASN {asn})",
        "reach": "{region}: segment {source} reaches {target}",
        "trust": "role {role} trusts {principal}{condition_text}",
        "managed": "role {role} has AWS managed policy {policy}",
        "permission": "role {role}: {effect} {actions} on {resources}{condition_text}",
        "resource_policy": "{subject} policy: {effect} {principal}: {actions}{condition_text}",
        "store": "{resource} ({type}): {key}",
        "key": "KMS key {resource} ({alias}): rotation {rotation}",
        "policy": "{resource} ({type}): on delete {deletion}, on replace {replace}",
        "ack": "{resource} {rule}: {reason}",
        "finding": "UNACKNOWLEDGED {pack} {rule} on {count} resource(s)",
    },
    "ja": {
        "sg_rule": "{group} {direction} {protocol} {ports} {peer_word} {peer}",
        "no_egress": "{group} 送信: なし"
        "（CDK のプレースホルダー規則 icmp 252-86 宛先 255.255.255.255/32 はどのパケットにも一致しない）",
        "nacl": "NACL {acl} {direction} #{number} {action} {protocol} {ports} {cidr}",
        "route": "ルートテーブル {table}: {destination} -> {target}",
        "tgw_route": "Transit Gateway ルートテーブル {table}: {destination} -> {target}",
        "endpoint": "エンドポイント {service}（{type}）VPC {vpc}",
        "internet": "インターネット経路 {resource}（{type}）",
        "dx_prefixes": "Direct Connect ゲートウェイ {gateway} へ広報: {prefixes}",
        "customer_gateway": "VPN カスタマーゲートウェイ {address}（ASN {asn}）",
        "reach": "{region}: セグメント {source} から {target} へ到達できる",
        "trust": "ロール {role} の信頼先 {principal}{condition_text}",
        "managed": "ロール {role} に AWS 管理ポリシー {policy}",
        "permission": "ロール {role}: {effect} {actions} 対象 {resources}{condition_text}",
        "resource_policy": "{subject} のポリシー: {effect} {principal}: {actions}{condition_text}",
        "store": "{resource}（{type}）: {key}",
        "key": "KMS キー {resource}（{alias}）: ローテーション {rotation}",
        "policy": "{resource}（{type}）: 削除時 {deletion}、置換時 {replace}",
        "ack": "{resource} {rule}: {reason}",
        "finding": "未承認の指摘 {pack} {rule}（{count} リソース）",
    },
}

WORDS: Mapping[str, Mapping[str, str]] = {
    "ja": {
        "ingress": "受信",
        "egress": "送信",
        "allow": "許可",
        "deny": "拒否",
        "Allow": "許可",
        "Deny": "拒否",
        "from": "送信元",
        "to": "宛先",
        "on": "有効",
        "off": "無効",
        "Tokyo": "東京",
        "Osaka": "大阪",
        "when": "条件",
    },
}

LABELS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "title": "Pull-request review",
        "guard_passed": "Change guard: passed (no guarded resource is replaced or removed)",
        "guard_failed": "Change guard: FAILED ({n} guarded resource(s) would be replaced or removed)",
        "environment": "environment",
        "stacks_changed": "stacks changed",
        "cost_delta": "monthly cost",
        "no_changes": "No resource changes.",
        "unchanged": "Unchanged: {n} stack(s).",
        "new_stack": "new stack",
        "new_stack_details": "everything the new stack holds",
        "removed_stack": "stack removed",
        "resources": "Resources",
        "network": "Network exposure",
        "iam": "IAM",
        "encryption": "Encryption",
        "stateful": "Stateful resources",
        "acknowledgements": "Acknowledgements",
        "compliance": "Compliance findings",
        "cost": "Monthly cost",
        "environment_level": "The environment as a whole",
        "blocking": "Blocked (replaced or removed, not allowed)",
        "allowed": "Allowed explicitly",
        "hint": "Hint",
        "cost_line": "Base {base} USD, head {head} USD, change {delta} USD a month (always-on resources priced from "
        "the templates with data/aws-prices.json; traffic and storage use are not in templates).",
        "unpriced": "Without a sourced price (not counted)",
        "warning": "needs a look",
        "diagram": "Diagram",
        "diagram_legend": "Added parts are green, changed parts amber, removed parts are listed above.",
        "more": "... and {n} more",
        "added": "added",
        "changed": "changed",
        "replaced": "replaced",
        "removed": "removed",
        "stateful_marker": "stateful",
        "other_language": "English",
        "truncated": "The summary was cut at GitHub's 1 MiB limit; the full reports are in the uploaded artifact.",
    },
    "ja": {
        "title": "プルリクエストのレビュー",
        "guard_passed": "変更ガード: 合格（保護対象リソースの置換・削除なし）",
        "guard_failed": "変更ガード: 不合格（保護対象リソース {n} 件が置換または削除される）",
        "environment": "環境",
        "stacks_changed": "変更されたスタック",
        "cost_delta": "月額費用",
        "no_changes": "リソースの変更はない。",
        "unchanged": "変更なし: {n} スタック。",
        "new_stack": "新規スタック",
        "new_stack_details": "新規スタックの内容すべて",
        "removed_stack": "スタック削除",
        "resources": "リソース",
        "network": "ネットワークの公開範囲",
        "iam": "IAM",
        "encryption": "暗号化",
        "stateful": "ステートフルなリソース",
        "acknowledgements": "承認済みの指摘",
        "compliance": "コンプライアンスの指摘",
        "cost": "月額費用",
        "environment_level": "環境全体",
        "blocking": "阻止（置換または削除、許可なし）",
        "allowed": "明示的に許可",
        "hint": "ヒント",
        "cost_line": "変更前 {base} USD、変更後 {head} USD、差額 {delta} USD／月（常時稼働のリソースをテンプレートから "
        "data/aws-prices.json で算定。通信量と保存量はテンプレートにないため含まない）。",
        "unpriced": "出典のある価格がない項目（計上しない）",
        "warning": "要確認",
        "diagram": "構成図",
        "diagram_legend": "追加部分は緑、変更部分は黄、削除部分は上の一覧を参照。",
        "more": "... ほか {n} 件",
        "added": "追加",
        "changed": "変更",
        "replaced": "置換",
        "removed": "削除",
        "stateful_marker": "ステートフル",
        "other_language": "日本語",
        "truncated": "GitHub の 1 MiB の上限でサマリーを切り詰めた。"
        "完全なレポートはアップロードされたアーティファクトにある。",
    },
}


COST_JA = (
    ("operating system not tagged", "OS のタグなし"),
    ("hosted zones", "ホストゾーン"),
    ("interface endpoint zone-hours", "インターフェイスエンドポイントのゾーン時間"),
    ("Transit Gateway attachments", "Transit Gateway アタッチメント"),
    ("VPN connections", "VPN 接続"),
    ("Resolver endpoint ENIs", "Resolver エンドポイントの ENI"),
    ("Application Load Balancers", "Application Load Balancer"),
    ("metric alarms", "メトリクスアラーム"),
    ("KMS keys", "KMS キー"),
    ("GB-month", "GB・月"),
    (" host, ", " ホスト、"),
    ("page default rate", "料金ページの既定の料金"),
    ("Tokyo rate", "東京の料金"),
    ("Tokyo", "東京"),
    ("Osaka", "大阪"),
)


DIAGRAM_JA = (
    ("account ", "アカウント "),
    ("TGW table ", "TGW ルートテーブル "),
    ("segment ", "セグメント "),
    ("bucket ", "バケット "),
    ("queue ", "キュー "),
    ("function ", "関数 "),
    ("linkage API ", "連携 API "),
    ("on-premises: ", "庁内側: "),
    ("city hall / LGWAN", "庁内 / LGWAN"),
    (" business-system accounts", " 業務システムのアカウント"),
    (" spoke VPCs", " スポーク VPC"),
    (" systems, each ", " システム、各 "),
    ("not attached", "未接続"),
    ("associated", "関連付け"),
    ("routes", "ルート"),
    ("writes", "書き込み"),
    ("delivers", "配信"),
    ("replicates", "複製"),
)
"""The diagram's fixed words (names from the templates stay)."""


def _replaced(text: str, pairs: tuple[tuple[str, str], ...]) -> str:
    for english, japanese in pairs:
        text = text.replace(english, japanese)
    return text


def cost_item(lang: str, text: str) -> str:
    """A priced item's label (from :func:`govcloud.review.cost.template_items`) in ``lang``."""
    return _replaced(text, COST_JA) if lang == "ja" else text


def diagram_label(text: str, lang: str) -> str:
    """A label of the diagram in ``lang``."""
    return _replaced(text, DIAGRAM_JA) if lang == "ja" else text


def label(lang: str, key: str, **values: object) -> str:
    return LABELS[lang][key].format(**values)


def word(lang: str, value: str) -> str:
    return WORDS.get(lang, {}).get(value, value)


def phrase(lang: str, kind: str, fields: Mapping[str, str]) -> str:
    values = {k: word(lang, v) for k, v in fields.items()}
    if kind == "sg_rule":
        values["peer_word"] = word(lang, "from" if fields["direction"] == "ingress" else "to")
    condition = fields.get("condition", "")
    values["condition_text"] = f" ({word(lang, 'when')} {condition})" if condition else ""
    return PHRASES[lang][kind].format(**values)
