"""Command line of the operations tools.

python -m govcloud.ops update-image --system NAME [--role ROLE ...] [--dry-run] [-c env=NAME | -c config=PATH]
"""

from __future__ import annotations

import argparse
import sys

from govcloud.config import ConfigError, load, resolve
from govcloud.ops import update_image
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
    parser.add_argument("-c", "--context", action="append", default=[], metavar="env=NAME|config=PATH")
    parser.add_argument(
        "--role-name", help="IAM role the tool assumes in each account (default: the current credentials' account)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    image = sub.add_parser("update-image", help="bring a system's hosts to their configured image (root volumes)")
    image.add_argument("--system", required=True)
    image.add_argument("--role", action="append", default=[], help="only this host role (repeatable)")
    image.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    args = parser.parse_args(argv)
    try:
        context = _context(args.context)
        cfg = load(resolve(context.get("env"), context.get("config")))
        access = Access(role_name=args.role_name)
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
