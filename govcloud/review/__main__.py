"""Command line of the review tools.

python -m govcloud.review report CDK_OUT [--stage NAME] [--out DIR]
python -m govcloud.review changes OLD_CDK_OUT NEW_CDK_OUT [--allow STACK/LOGICAL_ID ...]
python -m govcloud.review deploy-check CDK_OUT [--config PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from govcloud import prerequisites
from govcloud.config import CONFIG_DIR, DEFAULT_ENVIRONMENT, ConfigError
from govcloud.config import load as load_config
from govcloud.review import changes as change_guard
from govcloud.review import cost, deploy_check, report
from govcloud.review.assembly import AssemblyError, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m govcloud.review", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="Markdown review report of each environment in a cloud assembly")
    rep.add_argument("cdk_out")
    rep.add_argument("--stage", help="only this environment (stage), e.g. KobeStg")
    rep.add_argument("--out", help="write review-<stage>.md files here instead of printing")
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
                text = report.render(assembly, stage)
                if args.out:
                    path = Path(args.out) / f"review-{stage}.md"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(text, encoding="utf-8")
                    print(f"wrote {path}")
                else:
                    print(text)
            return 0
        text, ok = change_guard.render(change_guard.compare(load(args.old_cdk_out), load(args.new_cdk_out)), args.allow)
        print(text, end="")
        return 0 if ok else 1
    except (AssemblyError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
