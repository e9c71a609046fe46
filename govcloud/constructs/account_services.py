"""Account services the Government Cloud may already provide; each is created only when config asks."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_config as config
from aws_cdk import aws_guardduty as guardduty
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_securityhub as securityhub
from constructs import Construct

from govcloud.compliance.packs import acknowledge
from govcloud.constructs.log_groups import encrypted_log_group

SECURITY_HUB_STANDARDS = {
    "Fsbp": "aws-foundational-security-best-practices/v/1.0.0",
    "Nist80053R5": "nist-800-53/v/5.0.0",
}


class GuardDuty(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        guardduty.CfnDetector(
            self,
            "Detector",
            enable=True,
            finding_publishing_frequency="FIFTEEN_MINUTES",
            features=[
                guardduty.CfnDetector.CFNFeatureConfigurationProperty(name=name, status="ENABLED")
                for name in ("S3_DATA_EVENTS", "EBS_MALWARE_PROTECTION")
            ],
        )


class SecurityHub(Construct):
    """Security Hub with the AWS Foundational Security Best Practices and NIST 800-53 rev 5 standards."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        region = cdk.Stack.of(self).region
        hub = securityhub.CfnHub(
            self,
            "Hub",
            enable_default_standards=False,
            control_finding_generator="SECURITY_CONTROL",
            auto_enable_controls=True,
        )
        for construct_id_, standard in SECURITY_HUB_STANDARDS.items():
            std = securityhub.CfnStandard(
                self, construct_id_, standards_arn=f"arn:aws:securityhub:{region}::standards/{standard}"
            )
            std.add_resource_dependency(hub)


class ConfigRecorder(Construct):
    """AWS Config recording every supported resource, delivering to the central log archive."""

    def __init__(
        self, scope: Construct, construct_id: str, *, log_bucket: s3.IBucket, archive_key_arn: str, prefix: str
    ) -> None:
        super().__init__(scope, construct_id)
        account = cdk.Stack.of(self).account
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("config.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWS_ConfigRole")],
        )
        objects = log_bucket.arn_for_objects(f"{prefix}/AWSLogs/{account}/Config/*")
        delivery = iam.ManagedPolicy(
            self,
            "DeliveryPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(sid="DeliverUnderOwnPrefix", actions=["s3:PutObject"], resources=[objects]),
                iam.PolicyStatement(
                    sid="CheckBucketAcl", actions=["s3:GetBucketAcl"], resources=[log_bucket.bucket_arn]
                ),
                iam.PolicyStatement(
                    sid="EncryptWithArchiveKey", actions=["kms:GenerateDataKey"], resources=[archive_key_arn]
                ),
            ],
        )
        acknowledge(
            delivery,
            f"AwsSolutions-IAM5[Resource::{objects}]",
            "Config names its snapshot and history objects at delivery time; the wildcard is confined to this "
            "account's own Config prefix in the central log bucket.",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWS_ConfigRole]",
            "AWS_ConfigRole is the AWS managed policy that AWS documents for Config recorders; AWS keeps its "
            "read-only describe permissions current as resource types are added.",
        )
        recorder = config.CfnConfigurationRecorder(
            self,
            "Recorder",
            role_arn=role.role_arn,
            recording_group=config.CfnConfigurationRecorder.RecordingGroupProperty(
                all_supported=True, include_global_resource_types=True
            ),
        )
        channel = config.CfnDeliveryChannel(
            self,
            "DeliveryChannel",
            s3_bucket_name=log_bucket.bucket_name,
            s3_key_prefix=prefix,
            config_snapshot_delivery_properties=config.CfnDeliveryChannel.ConfigSnapshotDeliveryPropertiesProperty(
                delivery_frequency="TwentyFour_Hours"
            ),
        )
        channel.add_resource_dependency(recorder)


class AccountTrail(Construct):
    """A multi-region management-events trail with log-file validation, delivered to the central log archive
    and to a home-region log group (the only place global-service events reach in Tokyo)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        trail_name: str,
        log_bucket: s3.IBucket,
        prefix: str,
        archive_key_arn: str,
        log_key: kms.IKey,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = encrypted_log_group(self, "LogGroup", key=log_key, retention_days=log_retention_days)
        self.trail = cloudtrail.Trail(
            self,
            "Trail",
            trail_name=trail_name,
            bucket=log_bucket,
            s3_key_prefix=prefix,
            enable_file_validation=True,
            include_global_service_events=True,
            is_multi_region_trail=True,
            management_events=cloudtrail.ReadWriteType.ALL,
            send_to_cloud_watch_logs=True,
            cloud_watch_log_group=self.log_group,
        )
        acknowledge(
            self.trail.node.find_child("LogsRole"),
            "NIST.800.53.R5-IAMNoInlinePolicy",
            "CDK's Trail creates the role CloudTrail uses to deliver to its own log group; its inline policy "
            "allows only logs:CreateLogStream and logs:PutLogEvents on that one log group.",
        )
        cfn_trail = self.trail.node.default_child
        assert isinstance(cfn_trail, cloudtrail.CfnTrail)
        # The archive key lives in the log archive account; refer to it by its deterministic alias ARN.
        cfn_trail.kms_key_id = archive_key_arn
