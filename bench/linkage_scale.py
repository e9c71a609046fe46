"""The linkage file handler at Kobe's scale: a resident list of 1.51 million rows (CP932 CSV, 10 columns, two of them
pseudonymized), uploaded to a moto exchange bucket and run through ``handle_file`` as Lambda would.

Run alone (``python bench/linkage_scale.py [--rows N]``) or from ``make bench``. It prints one JSON object: the
handler's seconds, rows per second, peak resident memory while the handler runs (moto's copies of the file and
the outputs included), the KMS calls the file cost, and the floor: the seconds to decode, parse and write the same
rows with the csv module alone, on the same machine in the same run.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import datetime as dt
import gc
import io
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "govcloud" / "runtime" / "linkage"))
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
import linkage  # noqa: E402  # the function's folder, as Lambda loads it
from moto import mock_aws  # noqa: E402

from govcloud.config import CONFIG_DIR, load  # noqa: E402
from govcloud.config.linkage import handler_datasets  # noqa: E402

KOBE_RESIDENTS = 1_510_000
REGION = "ap-northeast-1"
WARDS = ["東灘区", "灘区", "中央区", "兵庫区", "北区", "長田区", "須磨区", "垂水区", "西区"]
SURNAMES = ["山田", "田中", "佐藤", "鈴木", "高橋", "髙橋", "渡辺", "伊藤", "山﨑", "中村"]
GIVEN = ["太郎", "花子", "一郎", "美咲", "健太", "陽菜", "翔", "結衣"]


def resident_list(rows: int, path: Path) -> None:
    """A CP932 resident list in the columns of the default config's ``resident-list`` dataset, written in pieces."""
    with path.open("w", encoding="cp932", newline="") as out:
        out.write("record_id,住民票コード,氏名,氏名カナ,生年月日,性別,郵便番号,住所,異動日,世帯人数\r\n")
        for start in range(0, rows, 100_000):
            out.write(
                "".join(
                    f"r-{i:08d},{10000000000 + i * 7},{SURNAMES[i % 10]}　{GIVEN[i % 8]},コウベ　タロウ,"
                    f"{1940 + i % 60}-{1 + i % 12:02d}-{1 + i % 28:02d},{'男女'[i % 2]},650-{i % 10000:04d},"
                    f"兵庫県神戸市{WARDS[i % 9]}加納町{1 + i % 9}-{1 + i % 30}-{1 + i % 20},"
                    f"2026-11-{1 + i % 28:02d},{1 + i % 6}\r\n"
                    for i in range(start, min(rows, start + 100_000))
                )
            )


def floor_seconds(path: Path) -> float:
    """Decode, parse and write every row once with the standard library: what any handler must at least do."""
    start = time.perf_counter()
    with path.open(encoding="cp932", newline="") as text:
        out = io.StringIO()
        writer = csv.writer(out)
        for n, row in enumerate(csv.reader(text)):
            writer.writerow(row)
            if n % 4096 == 0:
                out.seek(0)
                out.truncate()
    return time.perf_counter() - start


def measure(rows: int) -> dict[str, object]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[key] = "bench"
    cfg = load(CONFIG_DIR / "kobe-stg.toml")
    datasets = linkage.load_datasets(handler_datasets(cfg))
    producer = datasets["resident-list"].producer
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "resident-list.csv"
        resident_list(rows, path)
        floor = floor_seconds(path)
        result = _run(datasets, producer, path, rows) | {"floor_s": round(floor, 2)}
    result["over_floor"] = round(float(result["handler_s"]) / floor, 2)
    return result


def _reset_peak_memory() -> None:
    """Returns the setup's freed memory to the system and restarts the kernel's peak count (Linux), so that the
    peak is the handler's: its own memory, moto's copies of the file and outputs, and what setup left resident."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")


def _peak_memory_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run(datasets: dict[str, object], producer: str, path: Path, rows: int) -> dict[str, object]:
    """The handler on the file, in moto; peak memory is this process's (the file generator's is a few MiB)."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in ("exchange", "raw"):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        kms = boto3.client("kms", region_name=REGION)
        key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
        calls: list[str] = []
        kms.meta.events.register("before-call.kms", lambda model, **_: calls.append(model.name))
        events = boto3.client("events", region_name=REGION)
        events.create_event_bus(Name="linkage")
        object_key = f"inbox/resident-list/{producer}/resident-list.csv"
        with path.open("rb") as upload:
            s3.put_object(Bucket="exchange", Key=object_key, Body=upload)
        head = s3.head_object(Bucket="exchange", Key=object_key)
        version, size = head["VersionId"], head["ContentLength"]
        event = {"detail-type": "Object Created", "detail": {"object": {"key": object_key, "version-id": version}}}
        clients = linkage.Clients(s3=s3, raw_s3=s3, kms=kms, events=events)
        settings = linkage.Settings(exchange_bucket="exchange", raw_bucket="raw", mac_key_id=key, event_bus="linkage")
        _reset_peak_memory()
        start = time.perf_counter()
        result = linkage.handle_file(event, datasets, clients, settings, dt.date(2026, 12, 1))
        seconds = time.perf_counter() - start
        peak = _peak_memory_mib()
        raw_size = s3.head_object(Bucket="raw", Key=result["raw_key"])["ContentLength"]
    if result.get("accepted") != rows:
        raise SystemExit(f"the bench file was not accepted: {result}")
    return {
        "rows": rows,
        "file_mib": round(size / 2**20, 1),
        "raw_zone_mib": round(raw_size / 2**20, 1),
        "handler_s": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "peak_mib": round(peak),
        "kms_calls": len(calls),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=KOBE_RESIDENTS)
    args = parser.parse_args()
    print(json.dumps(measure(args.rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
