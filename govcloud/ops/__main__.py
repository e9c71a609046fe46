"""Command line of the operations tools.

python -m govcloud.ops [-c env=NAME | -c config=PATH] [--role-name NAME] preflight [--format table|json] [--only CHECK]
python -m govcloud.ops [-c env=NAME | -c config=PATH] [--role-name NAME] verify [--format table|json] [--only CHECK]
python -m govcloud.ops prices --refresh [--output PATH]
python -m govcloud.ops recover --system NAME [--dry-run] [-c env=NAME | -c config=PATH]
python -m govcloud.ops update-image --system NAME [--role ROLE ...] [--dry-run] [-c env=NAME | -c config=PATH]

preflight and verify are read-only and assume the operations role of the baseline in each account (override with
--role-name, where {account} stands for the account ID). Exit 0: every check passed; 1: a check failed; 2: the tool
could not run (credentials, access, throttling), with what to do.
"""

from __future__ import annotations

import argparse
import sys

from govcloud import naming
from govcloud.config import ConfigError, load, resolve
from govcloud.ops import checks, preflight, prices, recover, update_image, verify
from govcloud.ops.aws import Access, ToolProblem


def _context(pairs: list[str]) -> dict[str, str]:
    context = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in ("env", "config"):
            raise ConfigError(f"-c {pair}: give -c env=NAME or -c config=PATH")
        context[key] = value
    return context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m govcloud.ops", description=__doc__.split("\n\n")[0])
    common = argparse.ArgumentParser(add_help=False)  # the same options after the command, too
    for target, default in ((parser, None), (common, argparse.SUPPRESS)):
        target.add_argument(
            "-c",
            "--context",
            action="append",
            default=[] if default is None else default,
            metavar="env=NAME|config=PATH",
        )
        target.add_argument(
            "--role-name",
            default=default,
            help="IAM role the tool assumes in each account ({account} stands for its ID; default: the operations "
            "role for preflight and verify, the current credentials' account for update-image)",
        )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, what in (("preflight", "before a deploy: what the templates trust"), ("verify", "after a deploy")):
        command = sub.add_parser(name, help=f"read-only checks {what}", parents=[common])
        command.add_argument("--format", choices=("table", "json"), default="table")
        command.add_argument(
            "--only", action="append", default=[], metavar="CHECK", help="run this check only (repeatable)"
        )
    price = sub.add_parser("prices", help="rebuild data/aws-prices.json from the AWS Price List API", parents=[common])
    price.add_argument("--refresh", action="store_true", required=True)
    price.add_argument("--output", default=str(prices.PRICES_FILE))
    restore = sub.add_parser("recover", parents=[common], help="restore a system's hosts in Osaka's pilot light")
    restore.add_argument("--system", required=True)
    restore.add_argument("--dry-run", action="store_true", help="print the plan, start nothing")
    image = sub.add_parser(
        "update-image", parents=[common], help="bring a system's hosts to their configured image (root volumes)"
    )
    image.add_argument("--system", required=True)
    image.add_argument("--role", action="append", default=[], help="only this host role (repeatable)")
    image.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    args = parser.parse_args(argv)
    try:
        if args.command == "prices":
            return prices.refresh(Access(), args.output, out=sys.stdout, progress=sys.stderr)
        context = _context(args.context)
        cfg = load(resolve(context.get("env"), context.get("config")))
        if args.command in ("preflight", "verify"):
            access = Access(role_name=args.role_name or naming.operations_role(cfg))
            suite = preflight.CHECKS if args.command == "preflight" else verify.CHECKS
            unknown = sorted(set(args.only) - {name for name, _ in suite})
            if unknown:
                names = ", ".join(name for name, _ in suite)
                raise ConfigError(f"--only {', '.join(unknown)}: no such check of {args.command}; its checks: {names}")
            suite = [(name, check) for name, check in suite if not args.only or name in args.only]
            results = checks.run(suite, checks.Env(cfg, access), progress=sys.stderr)
            render = checks.render_json if args.format == "json" else checks.render_table
            print(render(results))
            return checks.exit_code(results)
        access = Access(role_name=args.role_name)
        if args.command == "recover":
            return recover.run(cfg, args.system, access, dry_run=args.dry_run, out=sys.stdout, progress=sys.stderr)
        return update_image.run(
            cfg, args.system, args.role, access, dry_run=args.dry_run, out=sys.stdout, progress=sys.stderr
        )
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ToolProblem as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: a replacement already started goes on in EC2; rerun to follow the rest", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
