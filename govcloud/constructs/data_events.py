"""A trail of data events only: every object read and write of some buckets, into the tamper-proof log archive."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_s3 as s3
from constructs import Construct

from govcloud import naming
from govcloud.compliance.packs import acknowledge
from govcloud.config import Config


def data_events_trail(
    scope: Construct,
    construct_id: str,
    *,
    cfg: Config,
    name: str,
    buckets: Sequence[s3.IBucket],
    log_bucket: s3.IBucket,
    reason: str,
) -> cloudtrail.Trail:
    """Who read or wrote what: a trail of the buckets' data events (no management events: the organisation's trail
    has those), encrypted with the archive key (by ARN: another account's), in this region only. ``reason`` says why
    it sends nothing to CloudWatch Logs (NIST's rule asks for it)."""
    trail = cloudtrail.Trail(
        scope,
        construct_id,
        trail_name=naming.trail(cfg, name),
        bucket=log_bucket,
        s3_key_prefix=naming.CLOUDTRAIL_PREFIX,
        enable_file_validation=True,
        include_global_service_events=False,
        is_multi_region_trail=False,
        management_events=cloudtrail.ReadWriteType.NONE,
    )
    trail.add_s3_event_selector(
        [cloudtrail.S3EventSelector(bucket=b) for b in buckets],
        read_write_type=cloudtrail.ReadWriteType.ALL,
        include_management_events=False,
    )
    cfn_trail = trail.node.default_child
    assert isinstance(cfn_trail, cloudtrail.CfnTrail)
    cfn_trail.kms_key_id = naming.log_archive_key_arn(cfg)
    acknowledge(trail, "NIST.800.53.R5-CloudTrailCloudWatchLogsEnabled", reason)
    return trail
