"""``prices --refresh``: rebuild ``data/aws-prices.json`` from the AWS Price List API (boto3 ``pricing``).

Each item the API can answer is read again, with its SKU, usage type and effective date, and the API as its source;
instance rates are read for every instance type of the shipped configs on Linux, Windows and RHEL in Tokyo and
Osaka. Items the API does not price this way (second-hand figures for other services) keep their entry and source.
The file in the repository keeps working offline; this only needs credentials (any account: the Price List API is
free and reads no account data).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from govcloud.config import PROJECT_ROOT, load, resolve
from govcloud.ops.aws import Access
from govcloud.ops.checks import call
from govcloud.review.cost import PRICES_FILE

__all__ = ["PRICES_FILE", "refresh"]

# The Price List API answers in us-east-1 (and eu-central-1, ap-south-1) only; it reads public prices, no resource.
PRICING_REGION = "us-east-1"
LOCATIONS = {"ap-northeast-1": "Asia Pacific (Tokyo)", "ap-northeast-3": "Asia Pacific (Osaka)"}
USAGE_PREFIX = {"ap-northeast-1": "APN1", "ap-northeast-3": "APN3"}
OPERATING_SYSTEMS = {"Linux": "No License required", "Windows": "License included", "RHEL": "No License required"}
SOURCE = "AWS Price List API (pricing.get_products, {region})"


@dataclass(frozen=True)
class Query:
    service: str
    item: str
    unit: str
    region: str
    service_code: str
    filters: tuple[tuple[str, str], ...]


def instance_types() -> list[str]:
    """Every instance type of the shipped configs, and those the file already prices."""
    types = set()
    for env in sorted(p.stem for p in (PROJECT_ROOT / "config").glob("*.toml")):
        cfg = load(resolve(env, None))
        types |= {role.instance_type for system in cfg.systems.values() for role in system.roles.values()}
    items = json.loads(PRICES_FILE.read_text(encoding="utf-8"))["items"]
    types |= {i["item"].split(" ")[0] for i in items if i["service"] == "Amazon EC2" and "On-Demand" in i["item"]}
    return sorted(types)


def queries(types: list[str]) -> Iterator[Query]:
    for region, location in LOCATIONS.items():
        prefix = USAGE_PREFIX[region]
        for instance_type in types:
            for os, licence in OPERATING_SYSTEMS.items():
                yield Query(
                    "Amazon EC2",
                    f"{instance_type} On-Demand, {os}, shared tenancy",
                    "USD per instance-hour",
                    region,
                    "AmazonEC2",
                    (
                        ("location", location),
                        ("instanceType", instance_type),
                        ("operatingSystem", os),
                        ("tenancy", "Shared"),
                        ("preInstalledSw", "NA"),
                        ("capacitystatus", "Used"),
                        ("licenseModel", licence),
                    ),
                )
        yield Query(
            "Amazon EBS",
            "gp3 storage",
            "USD per GB-month",
            region,
            "AmazonEC2",
            (("location", location), ("volumeApiName", "gp3"), ("productFamily", "Storage")),
        )
        yield Query(
            "AWS PrivateLink",
            "Interface VPC endpoint",
            "USD per endpoint per AZ-hour",
            region,
            "AmazonVPC",
            (("usagetype", f"{prefix}-VpcEndpoint-Hours"),),
        )
        yield Query(
            "AWS Transit Gateway",
            "Attachment (VPC/VPN/DX-GW/peering are all billed per attachment-hour)",
            "USD per attachment-hour",
            region,
            "AmazonVPC",
            (("usagetype", f"{prefix}-TransitGateway-Hours"),),
        )


def on_demand(product: dict[str, Any]) -> tuple[float, str, str] | None:
    """(USD per unit, effective date, unit) of the first on-demand price dimension starting at zero."""
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            if str(dimension.get("beginRange", "0")) in ("0", "0.0"):
                return (
                    float(dimension["pricePerUnit"]["USD"]),
                    term.get("effectiveDate", "")[:10],
                    dimension.get("unit", ""),
                )
    return None


def read(pricing: Any, query: Query) -> dict[str, Any] | None:
    filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in query.filters]
    found = call(
        lambda: pricing.get_products(ServiceCode=query.service_code, Filters=filters, MaxResults=10)["PriceList"],
        f"reading the price of {query.item} in {query.region}",
    )
    products = [json.loads(p) if isinstance(p, str) else p for p in found]
    priced = [(p, d) for p in products if (d := on_demand(p)) is not None and d[0] > 0]
    if len(priced) != 1:
        return None  # none, or ambiguous: the entry is left as it was
    product, (usd, effective, unit) = priced[0]
    return {
        "service": query.service,
        "item": query.item,
        "unit": query.unit,
        "region": query.region,
        "usd": usd,
        "source": SOURCE.format(region=PRICING_REGION),
        "source_date": datetime.now(UTC).date().isoformat(),
        "status": "found",
        "sku": product.get("product", {}).get("sku", ""),
        "usage_type": product.get("product", {}).get("attributes", {}).get("usagetype", ""),
        "effective_date": effective,
        "note": f"API unit: {unit}",
    }


def refresh(access: Access, output: str | Path, out: TextIO, progress: TextIO) -> int:
    """Read every query, merge into the file (replacing what the API answered), write it. Exit 0, or 1 when the API
    answered none of the queries (the file is then left as it was)."""
    pricing = access.session.client("pricing", region_name=PRICING_REGION)
    document = json.loads(PRICES_FILE.read_text(encoding="utf-8"))
    items = {(i["service"], i["item"], i["region"]): i for i in document["items"]}
    wanted = list(queries(instance_types()))
    answered = unanswered = 0
    for number, query in enumerate(wanted, start=1):
        progress.write(f"\r[{number:>3}/{len(wanted)}] {query.item[:50]:<50} {query.region}")
        progress.flush()
        entry = read(pricing, query)
        if entry is None:
            unanswered += 1
            continue
        items[(query.service, query.item, query.region)] = entry
        answered += 1
    progress.write("\n")
    if answered == 0:
        out.write(f"The Price List API answered none of {len(wanted)} queries; {PRICES_FILE.name} is unchanged.\n")
        return 1
    document["compiled"] = datetime.now(UTC).date().isoformat()
    document["items"] = sorted(items.values(), key=lambda i: (i["service"], i["item"], i["region"]))
    Path(output).write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    out.write(
        f"{answered} prices read from the AWS Price List API, {unanswered} not answered (kept as they were); "
        f"written to {output}\n"
    )
    return 0
