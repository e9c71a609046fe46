"""The pull-request review: what a change does to each environment, in one screen.

``python -m govcloud.review pr BASE_OUT HEAD_OUT`` compares two cloud assemblies (the base branch's synth and the
head's). The change guard's verdict comes first, then a table of every environment, then, per environment and per
changed stack, what the change adds (+) or removes (-) in network exposure, IAM, encryption, stateful resources,
acknowledgements and compliance findings, and the monthly cost delta priced from the templates. Unchanged stacks
take one line together; a diagram of the environment with the changed parts marked closes each environment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from govcloud.review import changes as change_guard
from govcloud.review import cost, diagram
from govcloud.review import facts as fact_module
from govcloud.review.assembly import Assembly
from govcloud.review.facts import CATEGORIES, ENVIRONMENT, Fact
from govcloud.review.i18n import cost_item, label, phrase

MAX_RESOURCE_LINES = 25
"""Resource changes listed per stack before the rest are counted (the categories below them say the rest)."""
SUMMARY_LIMIT = 1024 * 1024
"""GitHub shows at most 1 MiB of job summary per step."""


@dataclass
class StageReview:
    stage: str
    stacks: list[str]
    added: set[Fact]
    removed: set[Fact]
    changes: change_guard.ChangeSet
    base_cost: dict[str, dict[str, cost.Item]]
    head_cost: dict[str, dict[str, cost.Item]]
    blocking: list[change_guard.ResourceChange] = field(default_factory=list)

    def changed_stacks(self) -> list[str]:
        touched = {f.stack for f in self.added | self.removed} | set(self.changes.by_stack)
        touched |= {
            s for s in self.stacks if cost.monthly(self.base_cost.get(s, {})) != cost.monthly(self.head_cost.get(s, {}))
        }
        return [s for s in [ENVIRONMENT, *sorted(self.stacks)] if s in touched]

    def cost_delta(self) -> float:
        return sum(cost.monthly(v) for v in self.head_cost.values()) - sum(
            cost.monthly(v) for v in self.base_cost.values()
        )


def _stage_assembly(assembly: Assembly, stage: str) -> Assembly:
    return Assembly(root=assembly.root, stacks=assembly.of_stage(stage), validation_report=assembly.validation_report)


def review_stage(base: Assembly, head: Assembly, stage: str, allowed: Iterable[str] = ()) -> StageReview:
    before = fact_module.of_stage(base, stage) if stage in base.stages() else set()
    after = fact_module.of_stage(head, stage) if stage in head.stages() else set()
    change_set = change_guard.compare(_stage_assembly(base, stage), _stage_assembly(head, stage))
    prices = cost.Prices()
    stacks = sorted({s.name for s in base.of_stage(stage)} | {s.name for s in head.of_stage(stage)})
    return StageReview(
        stage=stage,
        stacks=stacks,
        added=after - before,
        removed=before - after,
        changes=change_set,
        base_cost={s.name: cost.template_items([s], prices) for s in base.of_stage(stage)},
        head_cost={s.name: cost.template_items([s], prices) for s in head.of_stage(stage)},
        blocking=change_set.blocking(allowed),
    )


def review(base: Assembly, head: Assembly, allowed: Iterable[str] = ()) -> list[StageReview]:
    allowed = list(allowed)
    return [review_stage(base, head, stage, allowed) for stage in sorted(set(base.stages()) | set(head.stages()))]


def _usd(value: float) -> str:
    return f"{value:+,.2f}" if round(value, 2) else "0.00"


def _counts(review: StageReview, category: str) -> str:
    plus = sum(1 for f in review.added if f.category == category)
    minus = sum(1 for f in review.removed if f.category == category)
    return f"+{plus} -{minus}" if plus or minus else "-"


def _fact_lines(facts: Iterable[Fact], sign: str, lang: str) -> list[str]:
    """One line per fact; acknowledgements of one rule with one reason on several resources share a line."""
    lines = []
    acks: dict[tuple[str, str], list[str]] = {}
    for f in sorted(facts, key=lambda f: (f.kind, f.fields)):
        if f.kind == "ack":
            acks.setdefault((f.get("rule"), f.get("reason")), []).append(f.get("resource"))
            continue
        marker = f" [{label(lang, 'warning')}]" if f.warning and sign == "+" else ""
        lines.append(f"{sign} {phrase(lang, f.kind, dict(f.fields))}{marker}")
    for (rule, reason), resources in sorted(acks.items()):
        shown = ", ".join(resources[:3]) + (
            f", {label(lang, 'more', n=len(resources) - 3)}" if len(resources) > 3 else ""
        )
        subject = shown if len(resources) == 1 else f"{len(resources)} x ({shown})"
        lines.append(f"{sign} {phrase(lang, 'ack', {'resource': subject, 'rule': rule, 'reason': reason})}")
    return lines


def _cost_section(review: StageReview, stack: str, lang: str) -> list[str]:
    base, head = review.base_cost.get(stack, {}), review.head_cost.get(stack, {})
    rows = []
    for item in sorted(set(base) | set(head)):
        before = base[item].quantity if item in base else 0.0
        after = head[item].quantity if item in head else 0.0
        if before == after:
            continue
        unit = (head.get(item) or base[item]).unit_usd
        delta = "" if unit is None else f" = {_usd((after - before) * unit)} USD"
        rows.append(f"- {cost_item(lang, item)}: {before:g} -> {after:g}{delta}")
    if not rows:
        return []
    return [f"#### {label(lang, 'cost')}", "", *rows, ""]


def _resource_lines(review: StageReview, stack: str, lang: str) -> list[str]:
    stack_changes = review.changes.by_stack.get(stack, [])
    if not stack_changes:
        return []
    lines = [f"#### {label(lang, 'resources')}", ""]
    for change in stack_changes[:MAX_RESOURCE_LINES]:
        guarded = f" **[{label(lang, 'stateful_marker')}]**" if change.stateful else ""
        detail = f": {'; '.join(change.details)}" if change.details else ""
        lines.append(f"- {label(lang, change.kind)} `{change.logical_id}` ({change.type}){guarded}{detail}")
    if len(stack_changes) > MAX_RESOURCE_LINES:
        lines.append(f"- {label(lang, 'more', n=len(stack_changes) - MAX_RESOURCE_LINES)}")
    return [*lines, ""]


def render_stage(review: StageReview, head: Assembly, lang: str = "en", with_diagram: bool = True) -> list[str]:
    lines = [f"## {review.stage}", ""]
    changed = review.changed_stacks()
    unchanged = [s for s in review.stacks if s not in changed]
    if not changed:
        lines += [label(lang, "no_changes"), ""]
    for stack in changed:
        suffix = ""
        if stack in review.changes.stacks_added:
            suffix = f" ({label(lang, 'new_stack')})"
        elif stack in review.changes.stacks_removed:
            suffix = f" ({label(lang, 'removed_stack')})"
        title = label(lang, "environment_level") if stack == ENVIRONMENT else f"`{stack}`"
        lines += [f"### {title}{suffix}", ""]
        new_stack = stack in review.changes.stacks_added
        if new_stack:
            lines += ["<details><summary>" + label(lang, "new_stack_details") + "</summary>", ""]
        lines += _resource_lines(review, stack, lang)
        for category in CATEGORIES:
            plus = [f for f in review.added if f.stack == stack and f.category == category]
            minus = [f for f in review.removed if f.stack == stack and f.category == category]
            if plus or minus:
                lines += [f"#### {label(lang, category)}", "", "```diff"]
                lines += _fact_lines(minus, "-", lang) + _fact_lines(plus, "+", lang)
                lines += ["```", ""]
        lines += _cost_section(review, stack, lang)
        if new_stack:
            lines += ["</details>", ""]
    if unchanged:
        lines += [label(lang, "unchanged", n=len(unchanged)), ""]
    if with_diagram and changed and review.stage in head.stages():
        lines += [f"### {label(lang, 'diagram')}", "", label(lang, "diagram_legend"), ""]
        lines += diagram.markdown(head, review.stage, lang, review.changes)
    return lines


def render(reviews: list[StageReview], head: Assembly, lang: str = "en", with_diagram: bool = True) -> str:
    blocking = [c for r in reviews for c in r.blocking]
    lines = [f"# {label(lang, 'title')}", ""]
    if blocking:
        lines.append(f"**{label(lang, 'guard_failed', n=len(blocking))}**")
        lines += [f"- {c.stack}/{c.logical_id} ({c.type}, {label(lang, c.kind)})" for c in blocking]
        hints = sorted(
            {
                hint
                for c in blocking
                for (rtype, prop), hint in change_guard.REPLACEMENT_HINTS.items()
                if c.type == rtype and f"{prop} (create-only)" in c.details
            }
        )
        lines += [f"- {label(lang, 'hint')}: {h}" for h in hints]
    else:
        lines.append(f"**{label(lang, 'guard_passed')}**")
    lines += ["", _summary_table(reviews, lang), ""]
    for review in reviews:
        lines += render_stage(review, head, lang, with_diagram)
    return "\n".join(lines).rstrip() + "\n"


def _summary_table(reviews: list[StageReview], lang: str) -> str:
    header = [label(lang, "environment"), label(lang, "stacks_changed"), *(label(lang, c) for c in CATEGORIES)]
    header.append(label(lang, "cost_delta"))
    rows = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for r in reviews:
        changed = [s for s in r.changed_stacks() if s != ENVIRONMENT]
        cells = [r.stage, f"{len(changed)} / {len(r.stacks)}", *(_counts(r, c) for c in CATEGORIES)]
        cells.append(f"{_usd(r.cost_delta())} USD")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def guard_failed(reviews: list[StageReview]) -> bool:
    return any(r.blocking for r in reviews)


def job_summary(primary: str, others: Iterable[tuple[str, str]], lang: str, limit: int = SUMMARY_LIMIT) -> str:
    """The primary language's review open, each other language's folded, within GitHub's summary limit: what does
    not fit is cut at a line boundary, with a note that the full reports are in the artifact."""
    parts = [primary]
    for name, text in others:
        parts.append(f"<details><summary>{name}</summary>\n\n{text}\n</details>\n")
    body = "\n".join(parts)
    if len(body.encode("utf-8")) <= limit:
        return body
    note = f"\n\n**{label(lang, 'truncated')}**\n"
    budget = limit - len(note.encode("utf-8")) - 16
    cut = body.encode("utf-8")[:budget].decode("utf-8", errors="ignore")
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    if cut.count("```") % 2:
        cut += "\n```"
    if "<details>" in cut and cut.count("<details>") > cut.count("</details>"):
        cut += "\n</details>"
    return cut + note
