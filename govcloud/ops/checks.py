"""What ``preflight`` and ``verify`` share: results, the run over every check, and the table or JSON they print.

A check is a function of an :class:`Env` that yields :class:`Result` rows (account, region, what was checked, what
was expected, what was found, pass or fail). A failed row makes the command exit 1; a problem with the tool's own
access (:class:`ToolProblem`) stops it with exit 2 and a message that says what to do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from govcloud.config import Config
from govcloud.ops.aws import Access, explain


@dataclass(frozen=True)
class Result:
    check: str
    account: str
    region: str
    subject: str
    expected: str
    found: str
    ok: bool


@dataclass
class Env:
    """What a check reads with: the config, clients per account (by its name in ``[accounts]``) and region, and the
    time it runs at (tests fix it)."""

    cfg: Config
    access: Access
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    sleep: Callable[[float], None] = time.sleep
    """What waits between polls (tests pass one that does not)."""
    check: str = ""

    @property
    def regions(self) -> tuple[str, str]:
        return self.cfg.regions.primary.name, self.cfg.regions.dr.name

    def client(self, service: str, account: str, region: str | None = None) -> Any:
        account_id = self.cfg.account_id(account) if account in self.cfg.accounts else account
        return self.access.client(service, account_id, region or self.regions[0], check=self.check)

    def result(self, account: str, region: str, subject: str, expected: str, found: str, ok: bool) -> Result:
        return Result(self.check, account, region, subject, expected, found, ok)


Check = Callable[[Env], Iterable[Result]]


def call(operation: Callable[[], Any], what: str, *, missing: Sequence[str] = ()) -> Any:
    """One AWS call; an error code in ``missing`` means "not there" (returns None), any other failure is a
    :class:`ToolProblem` that says what was being done."""
    try:
        return operation()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code", "") in missing:
            return None
        raise explain(error, what) from None
    except (BotoCoreError, ResponseParserError) as error:
        raise explain(error, what) from None


def pages(client: Any, operation: str, key: str, what: str, **kwargs: Any) -> Iterator[Any]:
    """Every item of a paginated list call."""
    paginator = client.get_paginator(operation)
    for page in call(lambda: list(paginator.paginate(**kwargs)), what):
        yield from page.get(key, [])


def run(checks: Sequence[tuple[str, Check]], env: Env, progress: TextIO) -> list[Result]:
    results: list[Result] = []
    for number, (name, check) in enumerate(checks, start=1):
        progress.write(f"\r[{number:>2}/{len(checks)}] {name:<28}")
        progress.flush()
        env.check = name
        results.extend(check(env))
    progress.write("\r" + " " * 40 + "\r")
    return results


def render_table(results: Sequence[Result]) -> str:
    """A Markdown table per account, then the verdict."""
    lines: list[str] = []
    for account in dict.fromkeys(r.account for r in results):
        lines += [f"## {account}", "", "| check | region | subject | expected | found | status |", "| --- " * 6 + "|"]
        for r in (r for r in results if r.account == account):
            status = "ok" if r.ok else "**FAIL**"
            lines.append(f"| {r.check} | {r.region} | {r.subject} | {r.expected} | {r.found} | {status} |")
        lines.append("")
    failed = [r for r in results if not r.ok]
    lines.append(
        f"{len(results)} checked, {len(failed)} failed"
        + (": " + ", ".join(sorted({r.check for r in failed})) if failed else "")
    )
    return "\n".join(lines) + "\n"


def render_json(results: Sequence[Result]) -> str:
    return json.dumps(
        {"checked": len(results), "failed": sum(not r.ok for r in results), "results": [asdict(r) for r in results]},
        ensure_ascii=False,
        indent=1,
    )


def exit_code(results: Sequence[Result]) -> int:
    return 0 if all(r.ok for r in results) else 1


def days(delta_seconds: float) -> str:
    return f"{delta_seconds / 86400:.1f} days"


def hours(delta_seconds: float) -> str:
    return f"{delta_seconds / 3600:.1f} h"


def ours(cfg: Config, name: str) -> bool:
    """A resource name of this environment (its prefix)."""
    return name.startswith(f"{cfg.name}-")
