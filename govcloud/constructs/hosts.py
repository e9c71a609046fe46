"""EC2 hosts of a business system: the role they run as, and the hardened host itself with its data volume and
alarms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from govcloud.compliance.packs import acknowledge, acknowledge_wildcards
from govcloud.config import pascal
from govcloud.constructs.keys import key_by_alias_statement
from govcloud.os_profiles import AGENT_NAMESPACE, OsFamily
from govcloud.prerequisites import AWS_OWNED_BUCKETS


@dataclass(frozen=True)
class HostLogs:
    """Where a system's hosts send what they log, and the keys involved."""

    log_group_prefix: str
    """Every log group of the system's hosts is named ``<prefix>/...``."""
    logs_key: kms.IKey
    archive_bucket: str
    archive_prefix: str
    """Session logs go to ``<archive_prefix>/<account>/`` in the central log bucket."""
    archive_account: str
    archive_key_alias: str
    session_key: kms.IKey


class HostIdentity(Construct):
    """A role and instance profile per host role of a system (web, db, batch: what one may do, another may not),
    with only what the SSM agent (Session Manager, State Manager, Patch Manager) and the CloudWatch agent need, in
    one managed policy they share: AWS's managed policies would also let a host read every parameter of the
    account. :attr:`profile_names` is what each role's instances name."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_names: dict[str, str],
        description: str,
        agent_parameter_names: Sequence[str],
        logs: HostLogs,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        region, account = stack.region, stack.account
        statements = [
            iam.PolicyStatement(
                sid="SystemsManagerAgent",
                actions=[
                    "ssm:DescribeAssociation",
                    "ssm:DescribeDocument",
                    "ssm:GetDeployablePatchSnapshotForInstance",
                    "ssm:GetDocument",
                    "ssm:GetManifest",
                    "ssm:ListAssociations",
                    "ssm:ListInstanceAssociations",
                    "ssm:PutComplianceItems",
                    "ssm:PutConfigurePackageResult",
                    "ssm:PutInventory",
                    "ssm:UpdateAssociationStatus",
                    "ssm:UpdateInstanceAssociationStatus",
                    "ssm:UpdateInstanceInformation",
                    "ec2messages:AcknowledgeMessage",
                    "ec2messages:DeleteMessage",
                    "ec2messages:FailMessage",
                    "ec2messages:GetEndpoint",
                    "ec2messages:GetMessages",
                    "ec2messages:SendReply",
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                    "ec2:DescribeTags",
                    "ec2:DescribeVolumes",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="AwsOwnedAgentAndPatchBuckets",
                actions=["s3:GetObject"],
                resources=[f"arn:aws:s3:::{b.format(r=region)}/*" for b in AWS_OWNED_BUCKETS],
            ),
            iam.PolicyStatement(
                sid="ReadAgentConfiguration",
                actions=["ssm:GetParameter"],
                resources=[f"arn:aws:ssm:{region}:{account}:parameter/{name}" for name in agent_parameter_names],
            ),
            iam.PolicyStatement(
                sid="AgentMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": AGENT_NAMESPACE}},
            ),
            iam.PolicyStatement(
                sid="SystemLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[f"arn:aws:logs:{region}:{account}:log-group:{logs.log_group_prefix}/*"],
            ),
            iam.PolicyStatement(
                sid="SessionLogGroupEncryptionCheck",
                actions=["logs:DescribeLogGroups"],
                resources=[f"arn:aws:logs:{region}:{account}:log-group:*"],
            ),
            iam.PolicyStatement(
                sid="SessionLogsToArchive",
                actions=["s3:PutObject"],
                resources=[f"arn:aws:s3:::{logs.archive_bucket}/{logs.archive_prefix}/{account}/*"],
            ),
            iam.PolicyStatement(
                sid="SessionLogsArchiveEncryptionCheck",
                actions=["s3:GetEncryptionConfiguration"],
                resources=[f"arn:aws:s3:::{logs.archive_bucket}"],
            ),
            key_by_alias_statement(
                "ArchiveKeyThroughS3",
                ["kms:GenerateDataKey"],
                account=logs.archive_account,
                region=region,
                alias=logs.archive_key_alias,
                via="s3",
            ),
            iam.PolicyStatement(sid="DecryptSessions", actions=["kms:Decrypt"], resources=[logs.session_key.key_arn]),
            iam.PolicyStatement(
                sid="EncryptedLogs",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[logs.logs_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"logs.{region}.amazonaws.com"}},
            ),
        ]
        self.roles = {
            host_role: iam.Role(
                self,
                f"{pascal(host_role)}Role",
                role_name=name,
                assumed_by=iam.ServicePrincipal("ec2.amazonaws.com").with_conditions(
                    {"StringEquals": {"aws:SourceAccount": account}}
                ),
                description=f"{description} ({host_role} hosts)",
            )
            for host_role, name in sorted(role_names.items())
        }
        policy = iam.ManagedPolicy(self, "Policy", roles=list(self.roles.values()), statements=statements)
        acknowledge_wildcards(
            policy,
            statements,
            "The agent actions (ssm, ec2messages, ssmmessages, DescribeTags/Volumes, PutMetricData) support no "
            "resource-level permissions; logs, keys and parameters are limited to this system's own names, and "
            "objects to the AWS-owned buckets the SSM agent, CloudWatch agent and Patch Manager download from.",
        )
        self.profile_names = {
            host_role: iam.CfnInstanceProfile(self, f"{pascal(host_role)}Profile", roles=[role.role_name]).ref
            for host_role, role in self.roles.items()
        }


class HardenedHost(Construct):
    """One host: IMDSv2 with a hop limit of 1, no key pair, no public IP, termination protection (production),
    detailed monitoring, an encrypted root volume, an optional data volume that outlives the host, and alarms for
    status checks (the system check recovers the host onto other hardware, the instance check reboots it), CPU,
    memory and the fullest disk, each to ``topic_arn``.

    ``image_id`` is the image the instance is created from and never changes for a running host: CloudFormation
    would replace the instance, and the replacement's data volume attachment would fail while the old instance
    still holds the volume. A newer image reaches the host by root-volume replacement (``govcloud.ops
    update-image``); the ``Image`` tag says which image the host should run."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        family: OsFamily,
        image_id: str,
        instance_type: str,
        subnet: ec2.ISubnet,
        security_group_id: str,
        profile_name: str,
        key: kms.IKey,
        root_volume_gb: int,
        data_volume_gb: int | None,
        tags: dict[str, str],
        volume_tags: dict[str, str],
        topic_arn: str,
        termination_protection: bool,
        user_data: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.name = name
        self.instance = ec2.CfnInstance(
            self,
            "Resource",
            image_id=image_id,
            instance_type=instance_type,
            subnet_id=subnet.subnet_id,
            security_group_ids=[security_group_id],
            iam_instance_profile=profile_name,
            metadata_options=ec2.CfnInstance.MetadataOptionsProperty(
                http_tokens="required", http_put_response_hop_limit=1, http_endpoint="enabled"
            ),
            block_device_mappings=[
                ec2.CfnInstance.BlockDeviceMappingProperty(
                    device_name=family.root_device,
                    ebs=ec2.CfnInstance.EbsProperty(
                        encrypted=True,
                        kms_key_id=key.key_arn,
                        volume_size=root_volume_gb,
                        volume_type="gp3",
                        delete_on_termination=True,
                    ),
                )
            ],
            disable_api_termination=termination_protection,
            user_data=cdk.Fn.base64(user_data) if user_data else None,
            instance_initiated_shutdown_behavior="stop",
            monitoring=True,
            ebs_optimized=True,
            propagate_tags_to_volume_on_creation=True,
            tags=[cdk.CfnTag(key=k, value=v) for k, v in {"Name": name, **tags}.items()],
        )
        acknowledge(
            self.instance,
            "CloudFormation Validate::W9010",
            "AMIs are pinned per region in config on purpose: a new AMI release must never replace a running "
            "host; a new image reaches it by root-volume replacement.",
        )
        if not termination_protection:
            acknowledge(
                self.instance,
                "AwsSolutions-EC29",
                "A staging host: its environment must be possible to tear down and rebuild (README: tearing down "
                "an environment). Production hosts have termination protection (GC-EC2-4 requires it).",
            )
        self.data_volume: ec2.CfnVolume | None = None
        self.data_attachment: ec2.CfnVolumeAttachment | None = None
        if data_volume_gb:
            self.data_volume = ec2.CfnVolume(
                self,
                "DataVolume",
                availability_zone=subnet.availability_zone,
                size=data_volume_gb,
                volume_type="gp3",
                encrypted=True,
                kms_key_id=key.key_arn,
                tags=[cdk.CfnTag(key=k, value=v) for k, v in {"Name": f"{name}-data", **volume_tags}.items()],
            )
            # The data outlives the host: a replaced or terminated host leaves its data volume behind.
            self.data_volume.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
            acknowledge(
                self.data_volume,
                "CloudFormation Validate::W3010",
                "A volume must be in its host's zone; zones come from config (validated against the region) so "
                "that synth makes no AWS call.",
            )
            self.data_attachment = ec2.CfnVolumeAttachment(
                self,
                "DataAttachment",
                instance_id=self.instance.ref,
                volume_id=self.data_volume.ref,
                device=family.data_device,
            )
        self._alarms(name, family, topic_arn)

    def _alarms(self, name: str, family: OsFamily, topic_arn: str) -> None:
        region = cdk.Stack.of(self).region
        dimensions = [cloudwatch.CfnAlarm.DimensionProperty(name="InstanceId", value=self.instance.ref)]
        specs = [
            ("SystemCheck", "AWS/EC2", "StatusCheckFailed_System", "Maximum", "GreaterThanThreshold", 0, 2,
             f"arn:aws:automate:{region}:ec2:recover", "system status check failed: recovering"),
            ("InstanceCheck", "AWS/EC2", "StatusCheckFailed_Instance", "Maximum", "GreaterThanThreshold", 0, 3,
             f"arn:aws:automate:{region}:ec2:reboot", "instance status check failed: rebooting"),
            ("Cpu", "AWS/EC2", "CPUUtilization", "Average", "GreaterThanThreshold", 90, 15, None, "CPU above 90 %"),
            ("Memory", AGENT_NAMESPACE, family.memory.name, family.memory.statistic, family.memory.comparison,
             family.memory.threshold, 5, None, f"{family.memory.title} beyond {family.memory.threshold:g} %"),
            ("Disk", AGENT_NAMESPACE, family.disk.name, family.disk.statistic, family.disk.comparison,
             family.disk.threshold, 5, None, f"{family.disk.title} beyond {family.disk.threshold:g} %"),
        ]  # fmt: skip
        for suffix, namespace, metric, statistic, comparison, threshold, periods, action, title in specs:
            cloudwatch.CfnAlarm(
                self,
                f"{suffix}Alarm",
                alarm_name=f"{name} {suffix.lower()}",
                alarm_description=f"{name}: {title}",
                namespace=namespace,
                metric_name=metric,
                dimensions=dimensions,
                statistic=statistic,
                period=60,
                evaluation_periods=periods,
                threshold=threshold,
                comparison_operator=comparison,
                # A host that stops reporting agent metrics is as suspect as one that reports a bad value.
                treat_missing_data="breaching" if namespace == AGENT_NAMESPACE else "missing",
                actions_enabled=True,
                alarm_actions=[a for a in (action, topic_arn) if a],
                ok_actions=[topic_arn],
            )
