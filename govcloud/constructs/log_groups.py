"""CloudWatch log groups: always KMS-encrypted, with the configured retention, retained on delete."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from govcloud.config import CLOUDWATCH_RETENTION_DAYS

_RETENTION_NAMES = (
    "ONE_DAY", "THREE_DAYS", "FIVE_DAYS", "ONE_WEEK", "TWO_WEEKS", "ONE_MONTH", "TWO_MONTHS", "THREE_MONTHS",
    "FOUR_MONTHS", "FIVE_MONTHS", "SIX_MONTHS", "ONE_YEAR", "THIRTEEN_MONTHS", "EIGHTEEN_MONTHS", "TWO_YEARS",
    "THREE_YEARS", "FIVE_YEARS", "SIX_YEARS", "SEVEN_YEARS", "EIGHT_YEARS", "NINE_YEARS", "TEN_YEARS",
)  # fmt: skip
RETENTION = {
    days: logs.RetentionDays[name] for days, name in zip(CLOUDWATCH_RETENTION_DAYS, _RETENTION_NAMES, strict=True)
}


def encrypted_log_group(
    scope: Construct, construct_id: str, *, key: kms.IKey, retention_days: int, name: str | None = None
) -> logs.LogGroup:
    """``name`` fixes the log group's name, so that a policy can name it without a token."""
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=name,
        encryption_key=key,
        retention=RETENTION[retention_days],
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
