"""``make bench``: what the project's code costs a synth, how a synth grows with the business systems, peak memory,
the largest stack, and the test-suite time.

- The project's synth of the default config against the floor of producing the same templates through CDK
  (``bench/floor_app.py``: the synthesized templates included as they are, with the same packs): what our
  constructs, config and checks add. Recorded each run.
- The Government Cloud pack: the default app with and without it (budget: it adds at most 10 %).
- The marginal synth time of a business system, from 1, 10 and 20 systems, as a share of an empty app's synth
  (budget 0.3), and the growth from 10 to 20 systems against linear (budget: within 20 %).
- The largest stack at 20 systems (budget 250 resources), peak memory, and the test suite (budget < 90 s).
- The pull-request review of a typical change (a new security-group rule and a new bucket) on the 20-system
  assembly: its size in English and Japanese (budget under 20 KB; bytes, not seconds).
- The linkage file handler on Kobe's resident list (1.51 million rows, CP932): seconds, rows per second, peak
  memory, KMS calls per file, and its time against the floor of decoding, parsing and writing the rows with the
  csv module alone (budget 6); issue 18's absolute budgets (30 s, 1 GiB) hold on the 2-core reference machine.

Every app runs as ``python -O <app>`` with the context the CDK CLI passes (cdk.json), alternately, in one run on
one machine: the budgets are ratios measured in that run (absolute seconds differ about 2.5-fold between machines
of the same kind). Results go to stdout and .bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scale import typical_change, write_scaled_config  # noqa: E402
from govcloud import prerequisites  # noqa: E402
from govcloud.config import load  # noqa: E402
from govcloud.review import deploy_check, pr  # noqa: E402
from govcloud.review.assembly import load as load_assembly  # noqa: E402
from tests.support import cli_context  # noqa: E402

BUDGET_GOVCLOUD_PACK = 1.10
BUDGET_TEST_SECONDS = 90.0
BUDGET_SYSTEM_SHARE = 0.3
"""A business system's marginal synth time, as a share of an empty app's synth."""
BUDGET_SUPERLINEAR = 0.20
"""t20 - t10 may differ from (t10 - t1) * 10/9 by at most this fraction."""
BUDGET_REVIEW_BYTES = 20 * 1024
"""The pull-request review of a typical change (a security-group rule and a bucket) at 20 systems."""
BUDGET_STACK_RESOURCES = 250
"""CloudFormation allows 500 per stack; half of it leaves room to grow."""
BUDGET_LINKAGE_OVER_FLOOR = 6.0
"""The file handler's time for Kobe's resident list, against decoding, parsing and writing it with csv alone."""
BUDGET_LINKAGE_SECONDS = 30.0
BUDGET_LINKAGE_PEAK_MIB = 1024.0
"""Issue 18's budgets for the 1.51 million rows, set for the 2-core reference machine (moto included)."""
SCALE_POINTS = (1, 10, 20)


def largest_stack(outdir: Path) -> tuple[str, int]:
    """The stack with the most resources in a synthesized assembly, and that number."""
    counts = {
        path.name.removesuffix(".template.json"): len(json.loads(path.read_text(encoding="utf-8"))["Resources"])
        for path in outdir.glob("assembly-*/*.template.json")
    }
    name = max(counts, key=lambda k: counts[k])
    return name, counts[name]


def deploy_problems(outdir: Path, config_path: Path) -> int:
    """The deploy simulation over a synthesized assembly (the tests run it on 6 systems, this on up to 20)."""
    simulation = deploy_check.run(load_assembly(outdir), prerequisites.of(load(config_path)))
    for problem in simulation.problems:
        print(f"  deploy check: {problem.render()}")
    return len(simulation.problems)


def run_app(
    app: Path,
    extra_context: dict[str, str] | None = None,
    inspect: dict[str, object] | None = None,
    env_extra: dict[str, str] | None = None,
    keep: Path | None = None,
) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MiB, the app and its Node process) of one synth. With ``inspect``,
    the largest stack of the output is recorded in it (after the clock stops); with ``keep``, the assembly is
    written there."""
    with tempfile.TemporaryDirectory() as tmp:
        outdir = str(keep) if keep else tmp
        env = {
            **os.environ,
            **(env_extra or {}),
            "CDK_OUTDIR": outdir,
            "CDK_CONTEXT_JSON": json.dumps({**cli_context(), **(extra_context or {})}),
            "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
        }
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-O", str(app)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{app.name} failed with exit code {os.waitstatus_to_exitcode(status)}")
        if inspect is not None:
            inspect["largest_stack"], inspect["largest_stack_resources"] = largest_stack(Path(outdir))
            config_path = (extra_context or {}).get("config")
            if config_path:
                inspect["deploy_check_problems"] = deploy_problems(Path(outdir), Path(config_path))
        return elapsed, usage.ru_maxrss / 1024


def scale(runs: int, results: dict[str, object], empty_s: float) -> bool:
    """Synth time at 1, 10 and 20 business systems (each a copy of the resident registry in its own account and
    spoke), the marginal cost of a system and the largest stack; True if within budget."""
    medians: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        configs = {n: write_scaled_config(n, Path(tmp)) for n in SCALE_POINTS}
        samples: dict[int, list[float]] = {n: [] for n in SCALE_POINTS}
        largest: dict[int, dict[str, object]] = {n: {} for n in SCALE_POINTS}
        kept = Path(tmp) / f"systems-{SCALE_POINTS[-1]}"
        for i in range(runs):  # alternate, so all points see the same machine load
            for n, path in configs.items():
                inspect = largest[n] if i == 0 else None
                keep = kept if i == 0 and n == SCALE_POINTS[-1] else None
                samples[n].append(run_app(ROOT / "app.py", {"config": str(path)}, inspect, keep=keep)[0])
        review_bytes = review_size(kept)
    report: dict[str, object] = {}
    for n in SCALE_POINTS:
        medians[n] = statistics.median(samples[n])
        runs_s = [round(t, 2) for t in samples[n]]
        report[f"systems_{n}"] = {"median_s": round(medians[n], 2), "runs_s": runs_s, **largest[n]}
        print(
            f"synth, {n:2d} business system(s): median {medians[n]:.2f} s of {runs_s}, "
            f"largest stack {largest[n]['largest_stack']} with {largest[n]['largest_stack_resources']} resources, "
            f"{largest[n]['deploy_check_problems']} deploy-check problem(s)"
        )
    t1, t10, t20 = (medians[n] for n in SCALE_POINTS)
    marginal = (t20 - t1) / 19
    share = marginal / empty_s
    expected = (t10 - t1) * 10 / 9
    deviation = (t20 - t10 - expected) / expected if expected > 0 else float("inf")
    biggest = max(int(str(largest[n]["largest_stack_resources"])) for n in SCALE_POINTS)
    report |= {
        "seconds_per_system": round(marginal, 3),
        "system_share_of_empty_synth": round(share, 3),
        "superlinear_deviation": round(deviation, 3),
        "largest_stack_resources": biggest,
    }
    results["scale"] = report
    print(
        f"marginal cost of a system (t20 - t1) / 19: {marginal:.2f} s = {share:.2f} of an empty app's synth "
        f"(budget <= {BUDGET_SYSTEM_SHARE})"
    )
    print(
        f"growth: t20 - t10 = {t20 - t10:.2f} s against (t10 - t1) x 10/9 = {expected:.2f} s, "
        f"{deviation:+.0%} (budget within {BUDGET_SUPERLINEAR:.0%})"
    )
    print(f"largest stack: {biggest} resources (budget <= {BUDGET_STACK_RESOURCES})")
    report["review_bytes"] = review_bytes
    print(
        f"pull-request review of a typical change at {SCALE_POINTS[-1]} systems: "
        + ", ".join(f"{lang} {size:,} bytes" for lang, size in review_bytes.items())
        + f" (budget < {BUDGET_REVIEW_BYTES:,})"
    )
    verdicts = results.setdefault("budgets", {})
    assert isinstance(verdicts, dict)
    verdicts["system_share"] = share <= BUDGET_SYSTEM_SHARE
    verdicts["growth"] = abs(deviation) <= BUDGET_SUPERLINEAR
    verdicts["largest_stack"] = biggest <= BUDGET_STACK_RESOURCES
    verdicts["review_size"] = max(review_bytes.values()) < BUDGET_REVIEW_BYTES
    verdicts["deploy_check_at_scale"] = all(largest[n]["deploy_check_problems"] == 0 for n in SCALE_POINTS)
    return all(
        (
            verdicts["system_share"],
            verdicts["growth"],
            verdicts["largest_stack"],
            verdicts["deploy_check_at_scale"],
            verdicts["review_size"],
        )
    )


def review_size(base: Path) -> dict[str, int]:
    """Bytes of the pull-request review of a new security-group rule and a new bucket on a synthesized assembly."""
    head = base.parent / f"{base.name}-head"
    shutil.copytree(base, head)
    typical_change(head)
    before, after = load_assembly(base), load_assembly(head)
    reviews = pr.review(before, after)
    return {lang: len(pr.render(reviews, after, lang).encode("utf-8")) for lang in ("en", "ja")}


def linkage(results: dict[str, object]) -> bool:
    """The linkage file handler on Kobe's 1.51 million residents (bench/linkage_scale.py, in its own process)."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "linkage_scale.py")], cwd=ROOT, check=True, capture_output=True, text=True
    )
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    results["linkage_file"] = figures
    print(
        f"linkage file handler, {figures['rows']:,} rows ({figures['file_mib']} MiB CP932): {figures['handler_s']} s "
        f"= {figures['rows_per_s']:,} rows/s, peak {figures['peak_mib']} MiB, {figures['kms_calls']} KMS call(s), "
        f"{figures['over_floor']} x the csv-only floor of {figures['floor_s']} s"
    )
    print(
        f"linkage budgets: over floor <= {BUDGET_LINKAGE_OVER_FLOOR}, <= {BUDGET_LINKAGE_SECONDS:.0f} s and "
        f"<= {BUDGET_LINKAGE_PEAK_MIB:.0f} MiB on the reference machine, one KMS call per file"
    )
    verdicts = results.setdefault("budgets", {})
    assert isinstance(verdicts, dict)
    verdicts["linkage_over_floor"] = figures["over_floor"] <= BUDGET_LINKAGE_OVER_FLOOR
    verdicts["linkage_seconds"] = figures["handler_s"] <= BUDGET_LINKAGE_SECONDS
    verdicts["linkage_memory"] = figures["peak_mib"] <= BUDGET_LINKAGE_PEAK_MIB
    verdicts["linkage_kms_calls"] = figures["kms_calls"] == 1
    keys = ("linkage_over_floor", "linkage_seconds", "linkage_memory", "linkage_kms_calls")
    return all(bool(verdicts[k]) for k in keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="synths per app (median taken; at least 3)")
    parser.add_argument("--skip-tests", action="store_true", help="do not time the test suite")
    parser.add_argument("--skip-scale", action="store_true", help="do not time the synth at 1, 10 and 20 systems")
    parser.add_argument("--skip-linkage", action="store_true", help="do not run the linkage handler on 1.51M rows")
    args = parser.parse_args()
    runs = max(3, args.runs)

    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        assembly = Path(tmp) / "default"
        run_app(ROOT / "app.py", keep=assembly)  # the templates the floor app includes; also warms the file cache
        apps = {
            "default": (ROOT / "app.py", None),
            "floor": (ROOT / "bench" / "floor_app.py", {"BENCH_ASSEMBLY": str(assembly)}),
            "empty": (ROOT / "bench" / "empty_app.py", None),
            "without_govcloud_pack": (ROOT / "bench" / "app_without_govcloud_pack.py", None),
        }
        all_samples: dict[str, list[tuple[float, float]]] = {name: [] for name in apps}
        for _ in range(runs):  # alternate, so all see the same machine load
            for name, (app, env_extra) in apps.items():
                all_samples[name].append(run_app(app, env_extra=env_extra))
    for name, samples in all_samples.items():
        times = [t for t, _ in samples]
        results[f"synth_{name}"] = {
            "median_s": round(statistics.median(times), 2),
            "runs_s": [round(t, 2) for t in times],
            "peak_mib": round(max(m for _, m in samples), 1),
        }
    default, floor, empty = results["synth_default"], results["synth_floor"], results["synth_empty"]
    without = results["synth_without_govcloud_pack"]
    assert isinstance(default, dict) and isinstance(floor, dict)
    assert isinstance(empty, dict) and isinstance(without, dict)
    over_floor = default["median_s"] / floor["median_s"]
    pack_ratio = default["median_s"] / without["median_s"]
    results["ratio_over_floor"] = round(over_floor, 2)
    results["govcloud_pack_ratio"] = round(pack_ratio, 3)

    print(f"machine: {results['machine']}")
    for label, figures in (
        ("default config (kobe-stg)     ", default),
        ("floor: its templates included ", floor),
        ("empty app + same packs        ", empty),
        ("default without GovCloud pack ", without),
    ):
        print(
            f"synth, {label}: median {figures['median_s']:.2f} s of {figures['runs_s']}, peak {figures['peak_mib']} MiB"
        )
    print(f"project over floor: {over_floor:.2f} (what our code adds to producing the same templates; recorded)")
    print(f"GovCloud pack: default / without it = {pack_ratio:.3f} (budget <= {BUDGET_GOVCLOUD_PACK})")
    ok = pack_ratio <= BUDGET_GOVCLOUD_PACK
    results["budgets"] = {"govcloud_pack": pack_ratio <= BUDGET_GOVCLOUD_PACK}
    if not args.skip_scale:
        ok = scale(runs, results, float(empty["median_s"])) and ok
    if not args.skip_linkage:
        ok = linkage(results) and ok

    if not args.skip_tests:
        start = time.perf_counter()
        test = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=ROOT, check=False)
        elapsed = time.perf_counter() - start
        results["test_suite_s"] = round(elapsed, 1)
        print(f"test suite: {elapsed:.1f} s, exit {test.returncode} (budget < {BUDGET_TEST_SECONDS:.0f} s)")
        ok = ok and test.returncode == 0 and elapsed < BUDGET_TEST_SECONDS
        budgets = results["budgets"]
        assert isinstance(budgets, dict)
        budgets["test_suite"] = test.returncode == 0 and elapsed < BUDGET_TEST_SECONDS

    out = ROOT / ".bench"
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    verdicts = results["budgets"]
    assert isinstance(verdicts, dict)
    print("budgets: " + ", ".join(f"{name} {'ok' if met else 'OVER'}" for name, met in verdicts.items()))
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
