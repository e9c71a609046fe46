"""Command line of the review tools.

python -m govcloud.review report CDK_OUT [--stage NAME] [--out DIR]
python -m govcloud.review changes OLD_CDK_OUT NEW_CDK_OUT [--allow STACK/LOGICAL_ID ...]
python -m govcloud.review deploy-check CDK_OUT [--config PATH]
python -m govcloud.review pr BASE_CDK_OUT HEAD_CDK_OUT [--lang en|ja] [--out FILE] [--allow STACK/LOGICAL_ID ...]
python -m govcloud.review diagram CDK_OUT [--stage NAME] [--lang en|ja]
python -m govcloud.review job-summary PRIMARY_FILE [OTHER_FILE ...] [--lang en|ja]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from govcloud import prerequisites
from govcloud.config import CONFIG_DIR, DEFAULT_ENVIRONMENT, ConfigError
from govcloud.config import load as load_config
from govcloud.review import changes as change_guard
from govcloud.review import cost, deploy_check, diagram, pr, report
from govcloud.review.assembly import AssemblyError, load
from govcloud.review.i18n import LANGUAGES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m govcloud.review", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="Markdown review report of each environment in a cloud assembly")
    rep.add_argument("cdk_out")
    rep.add_argument("--stage", help="only this environment (stage), e.g. KobeStg")
    rep.add_argument("--out", help="write review-<stage>.md and one file per stack here instead of printing")
    rep.add_argument("--lang", choices=LANGUAGES, default="en")
    prr = sub.add_parser("pr", help="what a change does to every environment: the pull-request review")
    prr.add_argument("base_cdk_out")
    prr.add_argument("head_cdk_out")
    prr.add_argument("--lang", choices=LANGUAGES, default="en")
    prr.add_argument("--out", help="write the review to this file instead of printing it")
    prr.add_argument("--allow", action="append", default=[], metavar="STACK/LOGICAL_ID", help="accept this replacement")
    dia = sub.add_parser("diagram", help="Mermaid diagram of each environment, drawn from the templates")
    dia.add_argument("cdk_out")
    dia.add_argument("--stage", help="only this environment (stage), e.g. KobeStg")
    dia.add_argument("--lang", choices=LANGUAGES, default="en")
    summary = sub.add_parser("job-summary", help="reviews for GitHub's job summary: the first open, the rest folded")
    summary.add_argument("files", nargs="+")
    summary.add_argument("--lang", choices=LANGUAGES, default="en", help="the language of the first file")
    chg = sub.add_parser("changes", help="added, changed, replaced and removed resources; fails on data loss")
    chg.add_argument("old_cdk_out")
    chg.add_argument("new_cdk_out")
    chg.add_argument("--allow", action="append", default=[], metavar="STACK/LOGICAL_ID", help="accept this replacement")
    dep = sub.add_parser("deploy-check", help="deploy simulation: every name exists by the time its stack deploys")
    dep.add_argument("cdk_out")
    dep.add_argument("--config", default=str(CONFIG_DIR / f"{DEFAULT_ENVIRONMENT}.toml"))
    cost_parser = sub.add_parser(
        "cost", help="monthly cost of the shared hub against per-spoke copies, and of DNS delivery"
    )
    cost_parser.add_argument("--config", default=str(CONFIG_DIR / f"{DEFAULT_ENVIRONMENT}.toml"))
    cost_parser.add_argument("--spokes", type=int, nargs="*", default=[], help="extra spoke counts to price (e.g. 20)")
    args = parser.parse_args(argv)
    try:
        if args.command == "cost":
            cfg = load_config(args.config)
            counts = sorted({len(cfg.network.spokes), *args.spokes})
            print(cost.render(cfg, cost.Prices(), counts), end="")
            return 0
        if args.command == "deploy-check":
            sim = deploy_check.run(load(args.cdk_out), prerequisites.of(load_config(args.config)))
            print(deploy_check.render(sim), end="")
            return 1 if sim.problems else 0
        if args.command == "pr":
            head = load(args.head_cdk_out)
            reviews = pr.review(load(args.base_cdk_out), head, args.allow)
            text = pr.render(reviews, head, args.lang)
            if args.out:
                Path(args.out).write_text(text, encoding="utf-8")
                print(f"wrote {args.out} ({len(text.encode('utf-8')):,} bytes)", file=sys.stderr)
            else:
                print(text, end="")
            return 1 if pr.guard_failed(reviews) else 0
        if args.command == "job-summary":
            texts = [_read(f) for f in args.files]
            others = [(_first_heading(t, f), t) for f, t in zip(args.files[1:], texts[1:], strict=True)]
            print(pr.job_summary(texts[0], others, args.lang), end="")
            return 0
        if args.command == "diagram":
            assembly = load(args.cdk_out)
            for stage in [args.stage] if args.stage else assembly.stages():
                if stage not in assembly.stages():
                    print(f"error: no stage {stage} in {args.cdk_out}; stages: {assembly.stages()}", file=sys.stderr)
                    return 2
                print("\n".join([f"## {stage}", "", *diagram.markdown(assembly, stage, args.lang)]))
            return 0
        if args.command == "report":
            assembly = load(args.cdk_out)
            stages = [args.stage] if args.stage else assembly.stages()
            unknown = [s for s in stages if s not in assembly.stages()]
            if unknown or not stages:
                print(
                    f"error: no stage {unknown or ''} in {args.cdk_out}; stages: {assembly.stages()}", file=sys.stderr
                )
                return 2
            for stage in stages:
                if args.out:
                    for name, text in report.files(assembly, stage, args.lang).items():
                        path = Path(args.out) / name
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_text(text, encoding="utf-8")
                    print(f"wrote {Path(args.out) / report.index_name(stage, args.lang)} and its stack files")
                else:
                    print(report.render(assembly, stage, args.lang))
            return 0
        text, ok = change_guard.render(change_guard.compare(load(args.old_cdk_out), load(args.new_cdk_out)), args.allow)
        print(text, end="")
        return 0 if ok else 1
    except (AssemblyError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise AssemblyError(f"{path}: cannot read ({error.strerror})") from None


def _first_heading(text: str, fallback: str) -> str:
    return next((line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")), fallback)


if __name__ == "__main__":
    sys.exit(main())
