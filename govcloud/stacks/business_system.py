"""One standard business system (標準準拠システム) in its own account and spoke: hosts, access, monitoring, patching
and backup, all from the system's entry in config. The resident registry (住民記録) is the first."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_backup as backup
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_elasticloadbalancingv2_targets as elb_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from govcloud.compliance.packs import acknowledge, acknowledge_wildcards
from govcloud.config import CITY_HALL, LATEST_AMI_PARAMETERS, Backup, BusinessSystem, Config, HostRole, pascal
from govcloud.constructs.host_agent import (
    AGENT_NAMESPACE,
    FAMILY,
    PATCH_FILTERS,
    PATCH_OPERATING_SYSTEM,
    RHEL_9_PRODUCTS,
    OsFamily,
    rhel_repositories,
    wsus_script,
)
from govcloud.constructs.keys import KEY_ADMIN_ACTIONS
from govcloud.constructs.log_groups import encrypted_log_group
from govcloud.stacks.base import GovCloudStack
from govcloud.stacks.log_archive import SESSION_LOGS_PREFIX
from govcloud.stacks.spoke import AWS_OWNED_BUCKETS

TIER_SUBNETS = {"application": "Application", "data": "Data"}
HTTPS = 443
SESSION_IDLE_MINUTES = 20
SESSION_MAX_MINUTES = 120
BACKUP_TAG = "Backup"
WAVE_TAG = "PatchWave"
WAVES = ("a", "b")
DATA_DEVICE = {"windows": "xvdf", "linux": "/dev/sdf"}


def host_id(role: str, index: int) -> str:
    """Logical ID and name suffix of a host: ``web`` 0 -> ``Web1``."""
    return f"{pascal(role)}{index + 1}"


def patch_group(cfg: Config, system: str, role: str) -> str:
    return f"{cfg.name}-{system}-{role}"


class BusinessSystemStack(GovCloudStack):
    """Hosts of one business system per role, with everything that keeps them safe and running."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: Config,
        system: str,
        vpc: ec2.IVpc,
        data_key: kms.IKey,
        logs_key: kms.IKey,
    ) -> None:
        conf = cfg.systems[system]
        super().__init__(
            scope,
            construct_id,
            cfg=cfg,
            account=cfg.account_id(conf.account),
            region=cfg.regions.primary.name,
            summary=f"business system '{system}' ({conf.name_ja}): hosts, load balancer, monitoring, patching, backup",
            system=system,
            classification="restricted",
        )
        self.conf = conf
        self.system = system
        self.vpc = vpc
        self.data_key = data_key
        self.logs_key = logs_key
        self.log_prefix = f"/{cfg.name}/{system}"
        self.families = {FAMILY[role.os].log_group_suffix: FAMILY[role.os] for role in conf.roles.values()}

        self.topic = self._operations_topic(conf)
        self.groups = self._security_groups(conf)
        profile = self._instance_identity()
        self._session_manager()
        self.hosts: dict[str, list[ec2.CfnInstance]] = {}
        self.volumes: list[ec2.CfnVolume] = []
        for role_name, role in conf.roles.items():
            self.hosts[role_name] = [self._host(role_name, role, i, profile) for i in range(role.count)]
        self._load_balancer(conf)
        self._agent()
        self._patching(conf)
        self._backup()

    # ----- alarms' destination -----

    def _operations_topic(self, conf: BusinessSystem) -> sns.Topic:
        topic = sns.Topic(
            self,
            "OperationsTopic",
            topic_name=f"{self.cfg.name}-{self.system}-operations",
            display_name=f"{conf.name_ja} operations",
            master_key=self.logs_key,
            enforce_ssl=True,
        )
        for email in conf.operations_emails:
            topic.add_subscription(subs.EmailSubscription(email))
        return topic

    # ----- network access -----

    def _security_groups(self, conf: BusinessSystem) -> dict[str, ec2.SecurityGroup]:
        """One group per role (and one for the load balancer): ingress only from the configured callers on the
        configured ports; egress only to the hub's endpoints, S3, the patch source and called roles."""
        cfg = self.cfg
        net = cfg.network
        city_hall = list(net.segments[net.spokes[conf.spoke].segment].on_premises_cidrs)
        patching = cfg.patching
        groups: dict[str, ec2.SecurityGroup] = {}
        for role_name, role in conf.roles.items():
            group = ec2.SecurityGroup(
                self,
                f"{pascal(role_name)}SecurityGroup",
                vpc=self.vpc,
                description=f"{self.system} {role_name} hosts",
                allow_all_outbound=False,
            )
            group.add_egress_rule(ec2.Peer.ipv4(net.hub_cidr), ec2.Port.tcp(HTTPS), "Hub endpoints (SSM, logs, KMS)")
            group.add_egress_rule(
                ec2.Peer.prefix_list(net.s3_prefix_list_id), ec2.Port.tcp(HTTPS), "S3 (agents, patches, repositories)"
            )
            source = patching.sources.get(role.os) if patching else None
            if source is not None:
                group.add_egress_rule(ec2.Peer.ipv4(source.cidr), ec2.Port.tcp(HTTPS), f"Patch source {source.url}")
            groups[role_name] = group
        for role_name, role in conf.roles.items():
            for caller in role.callers:
                for port in role.ports:
                    if caller == CITY_HALL:
                        for cidr in city_hall:
                            groups[role_name].add_ingress_rule(
                                ec2.Peer.ipv4(cidr), ec2.Port.tcp(port), f"City hall to {role_name}"
                            )
                    else:
                        groups[caller].connections.allow_to(
                            groups[role_name], ec2.Port.tcp(port), f"{caller} to {role_name}"
                        )
        balanced = [name for name, role in conf.roles.items() if role.load_balancer]
        if balanced:
            lb = ec2.SecurityGroup(
                self,
                "LoadBalancerSecurityGroup",
                vpc=self.vpc,
                description=f"{self.system} internal load balancer: TLS from the city hall",
                allow_all_outbound=False,
            )
            for cidr in city_hall:
                lb.add_ingress_rule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(HTTPS), "City hall users (TLS)")
            target = balanced[0]
            lb.connections.allow_to(groups[target], ec2.Port.tcp(conf.roles[target].ports[0]), f"To {target}")
            groups["load-balancer"] = lb
        return groups

    # ----- identity of the hosts -----

    def _instance_identity(self) -> iam.CfnInstanceProfile:
        """One role for the system's hosts with only what Session Manager, the CloudWatch agent and Patch Manager
        need (AWS's managed policies would also allow reading every parameter and bucket of the account)."""
        cfg = self.cfg
        region, account = self.region, self.account
        self.session_key = kms.Key(
            self,
            "SessionKey",
            alias=f"alias/{cfg.name}/{self.system}/sessions",
            description=f"{cfg.name} {self.system}: encrypts Session Manager sessions",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            pending_window=cdk.Duration.days(30),
            policy=iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="KeyAdministration",
                        principals=[iam.AccountRootPrincipal()],
                        actions=KEY_ADMIN_ACTIONS,
                        resources=["*"],
                    ),
                    # Operators who start a session need GenerateDataKey, the hosts Decrypt: both as their IAM
                    # policies allow (the host role below; operators' roles are the Government Cloud's).
                    iam.PolicyStatement(
                        sid="SessionsOfThisAccountAsIamAllows",
                        principals=[iam.AccountRootPrincipal()],
                        actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                        resources=["*"],
                    ),
                ]
            ),
        )
        log_bucket = cfg.log_bucket_name
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
                resources=[
                    f"arn:aws:ssm:{region}:{account}:parameter/AmazonCloudWatch-{cfg.name}-{self.system}-{family}"
                    for family in sorted(self.families)
                ],
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
                resources=[f"arn:aws:logs:{region}:{account}:log-group:{self.log_prefix}/*"],
            ),
            iam.PolicyStatement(
                sid="SessionLogGroupEncryptionCheck",
                actions=["logs:DescribeLogGroups"],
                resources=[f"arn:aws:logs:{region}:{account}:log-group:*"],
            ),
            iam.PolicyStatement(
                sid="SessionLogsToArchive",
                actions=["s3:PutObject"],
                resources=[f"arn:aws:s3:::{log_bucket}/{SESSION_LOGS_PREFIX}/{account}/*"],
            ),
            iam.PolicyStatement(
                sid="SessionLogsArchiveEncryptionCheck",
                actions=["s3:GetEncryptionConfiguration"],
                resources=[f"arn:aws:s3:::{log_bucket}"],
            ),
            iam.PolicyStatement(
                sid="ArchiveKeyThroughS3",
                actions=["kms:GenerateDataKey"],
                resources=[f"arn:aws:kms:{region}:{cfg.log_archive_account_id}:key/*"],
                conditions={
                    "ForAnyValue:StringEquals": {"kms:ResourceAliases": cfg.log_archive.key_alias},
                    "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
                },
            ),
            iam.PolicyStatement(sid="DecryptSessions", actions=["kms:Decrypt"], resources=[self.session_key.key_arn]),
            iam.PolicyStatement(
                sid="EncryptedLogs",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[self.logs_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"logs.{region}.amazonaws.com"}},
            ),
        ]
        role = iam.Role(
            self,
            "HostRole",
            role_name=f"{cfg.name}-{self.system}-host",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"Hosts of {self.system}: Session Manager, CloudWatch agent, Patch Manager only",
        )
        policy = iam.ManagedPolicy(self, "HostPolicy", roles=[role], statements=statements)
        acknowledge_wildcards(
            policy,
            statements,
            "The agent actions (ssm, ec2messages, ssmmessages, DescribeTags/Volumes, PutMetricData) support no "
            "resource-level permissions; logs, keys and parameters are limited to this system's own names, and "
            "objects to the AWS-owned buckets the SSM agent, CloudWatch agent and Patch Manager download from.",
        )
        return iam.CfnInstanceProfile(self, "HostProfile", roles=[role.role_name])

    def _session_manager(self) -> None:
        """Session Manager preferences of the account: sessions encrypted with KMS, logged to the log archive and
        to CloudWatch Logs, closed when idle. There is no SSH or RDP path: no key pairs and no such ports."""
        cfg = self.cfg
        log_group = encrypted_log_group(
            self,
            "SessionLogs",
            key=self.logs_key,
            retention_days=cfg.logging.retention_days,
            name=f"{self.log_prefix}/sessions",
        )
        ssm.CfnDocument(
            self,
            "SessionPreferences",
            name="SSM-SessionManagerRunShell",
            document_type="Session",
            document_format="JSON",
            update_method="NewVersion",
            content={
                "schemaVersion": "1.0",
                "description": f"{cfg.name} {self.system}: Session Manager preferences",
                "sessionType": "Standard_Stream",
                "inputs": {
                    "s3BucketName": cfg.log_bucket_name,
                    "s3KeyPrefix": f"{SESSION_LOGS_PREFIX}/{self.account}",
                    "s3EncryptionEnabled": True,
                    "cloudWatchLogGroupName": log_group.log_group_name,
                    "cloudWatchEncryptionEnabled": True,
                    "cloudWatchStreamingEnabled": True,
                    "kmsKeyId": self.session_key.key_id,
                    "idleSessionTimeout": str(SESSION_IDLE_MINUTES),
                    "maxSessionDuration": str(SESSION_MAX_MINUTES),
                    "runAsEnabled": False,
                    "shellProfile": {"windows": "", "linux": ""},
                },
            },
        )

    # ----- hosts -----

    def _host(self, role_name: str, role: HostRole, index: int, profile: iam.CfnInstanceProfile) -> ec2.CfnInstance:
        cfg = self.cfg
        name = host_id(role_name, index)
        family = FAMILY[role.os]
        subnets = self.vpc.select_subnets(subnet_group_name=TIER_SUBNETS[role.tier]).subnets
        subnet = subnets[index % len(subnets)]
        if role.ami == "latest":
            image = f"{{{{resolve:ssm:{LATEST_AMI_PARAMETERS[role.os]}}}}}"
        else:
            image = role.ami[cfg.regions.primary.name]
        host_name = f"{cfg.name}-{self.system}-{role_name}-{index + 1}"
        backup_tag = cdk.CfnTag(key=BACKUP_TAG, value=f"{cfg.name}-{self.system}")
        instance = ec2.CfnInstance(
            self,
            name,
            image_id=image,
            instance_type=role.instance_type,
            subnet_id=subnet.subnet_id,
            security_group_ids=[self.groups[role_name].security_group_id],
            iam_instance_profile=profile.ref,
            metadata_options=ec2.CfnInstance.MetadataOptionsProperty(
                http_tokens="required", http_put_response_hop_limit=1, http_endpoint="enabled"
            ),
            block_device_mappings=[
                ec2.CfnInstance.BlockDeviceMappingProperty(
                    device_name=family.root_device,
                    ebs=ec2.CfnInstance.EbsProperty(
                        encrypted=True,
                        kms_key_id=self.data_key.key_arn,
                        volume_size=role.root_volume_gb,
                        volume_type="gp3",
                        delete_on_termination=True,
                    ),
                )
            ],
            disable_api_termination=True,
            instance_initiated_shutdown_behavior="stop",
            monitoring=True,
            ebs_optimized=True,
            propagate_tags_to_volume_on_creation=True,
            tags=[
                cdk.CfnTag(key="Name", value=host_name),
                cdk.CfnTag(key="Role", value=role_name),
                cdk.CfnTag(key="Patch Group", value=patch_group(cfg, self.system, role_name)),
                # The members of a pair alternate waves, so they never reboot together.
                cdk.CfnTag(key=WAVE_TAG, value=WAVES[index % len(WAVES)]),
                cdk.CfnTag(key="AgentConfig", value=family.log_group_suffix),
                backup_tag,
            ],
        )
        if role.ami != "latest":
            acknowledge(
                instance,
                "CloudFormation Validate::W9010",
                "AMIs are pinned per region in config on purpose: a new AMI release must never replace a running "
                "host; a new AMI is a reviewed config change.",
            )
        if role.data_volume_gb:
            volume = ec2.CfnVolume(
                self,
                f"{name}Data",
                availability_zone=subnet.availability_zone,
                size=role.data_volume_gb,
                volume_type="gp3",
                encrypted=True,
                kms_key_id=self.data_key.key_arn,
                tags=[cdk.CfnTag(key="Name", value=f"{host_name}-data"), backup_tag],
            )
            # The data outlives the host: a replaced or terminated host leaves its data volume behind.
            volume.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
            acknowledge(
                volume,
                "CloudFormation Validate::W3010",
                "A volume must be in its host's zone; zones come from config (validated against the region) so "
                "that synth makes no AWS call.",
            )
            ec2.CfnVolumeAttachment(
                self,
                f"{name}DataAttachment",
                instance_id=instance.ref,
                volume_id=volume.ref,
                device=DATA_DEVICE[family.name],
            )
            self.volumes.append(volume)
        self._host_alarms(name, host_name, instance, family)
        return instance

    def _host_alarms(self, name: str, host_name: str, instance: ec2.CfnInstance, family: OsFamily) -> None:
        """Status checks (the system check recovers the host onto other hardware, the instance check reboots it),
        CPU, memory and the fullest disk, each to the operations topic."""
        topic = self.topic.topic_arn
        dimensions = [cloudwatch.CfnAlarm.DimensionProperty(name="InstanceId", value=instance.ref)]
        specs = [
            ("SystemCheck", "AWS/EC2", "StatusCheckFailed_System", "Maximum", "GreaterThanThreshold", 0, 2,
             f"arn:aws:automate:{self.region}:ec2:recover", "system status check failed: recovering"),
            ("InstanceCheck", "AWS/EC2", "StatusCheckFailed_Instance", "Maximum", "GreaterThanThreshold", 0, 3,
             f"arn:aws:automate:{self.region}:ec2:reboot", "instance status check failed: rebooting"),
            ("Cpu", "AWS/EC2", "CPUUtilization", "Average", "GreaterThanThreshold", 90, 15, None, "CPU above 90 %"),
            ("Memory", AGENT_NAMESPACE, family.memory.name, family.memory.statistic, family.memory.comparison,
             family.memory.threshold, 5, None, f"{family.memory.title} beyond {family.memory.threshold:g} %"),
            ("Disk", AGENT_NAMESPACE, family.disk.name, family.disk.statistic, family.disk.comparison,
             family.disk.threshold, 5, None, f"{family.disk.title} beyond {family.disk.threshold:g} %"),
        ]  # fmt: skip
        for suffix, namespace, metric, statistic, comparison, threshold, periods, action, title in specs:
            cloudwatch.CfnAlarm(
                self,
                f"{name}{suffix}Alarm",
                alarm_name=f"{host_name} {suffix.lower()}",
                alarm_description=f"{host_name}: {title}",
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
                alarm_actions=[a for a in (action, topic) if a],
                ok_actions=[topic],
            )

    def _load_balancer(self, conf: BusinessSystem) -> None:
        balanced = [name for name, role in conf.roles.items() if role.load_balancer]
        if not balanced:
            return
        role_name = balanced[0]
        role = conf.roles[role_name]
        assert conf.certificate_arn is not None  # config validation requires it
        lb = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=self.vpc,
            internet_facing=False,
            vpc_subnets=ec2.SubnetSelection(subnet_group_name="Application"),
            security_group=self.groups["load-balancer"],
            drop_invalid_header_fields=True,
            deletion_protection=self.cfg.is_production,
        )
        lb.log_access_logs(self.access_log_bucket(), prefix="load-balancer")
        acknowledge(
            lb,
            "NIST.800.53.R5-ALBWAFEnabled",
            "Internal load balancer on the closed network, reachable only from the city hall CIDRs of the segment; "
            "no internet traffic reaches it for a web ACL to filter.",
        )
        if not self.cfg.is_production:
            acknowledge(
                lb,
                "NIST.800.53.R5-ELBDeletionProtectionEnabled",
                "Staging load balancers can be deleted so the environment can be rebuilt; production turns it on.",
            )
        listener = lb.add_listener(
            "Https",
            port=HTTPS,
            protocol=elbv2.ApplicationProtocol.HTTPS,
            certificates=[elbv2.ListenerCertificate.from_arn(conf.certificate_arn)],
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
            open=False,
        )
        listener.add_targets(
            pascal(role_name),
            port=role.ports[0],
            protocol=elbv2.ApplicationProtocol.HTTPS,
            targets=[elb_targets.InstanceIdTarget(host.ref) for host in self.hosts[role_name]],
            health_check=elbv2.HealthCheck(protocol=elbv2.Protocol.HTTPS, healthy_http_codes="200-399"),
        )

    # ----- CloudWatch agent -----

    def _agent(self) -> None:
        """Agent configuration per OS family in SSM, installed and applied by State Manager associations."""
        cfg = self.cfg
        targets = [ssm.CfnAssociation.TargetProperty(key="tag:System", values=[self.system])]
        install = ssm.CfnAssociation(
            self,
            "AgentInstall",
            association_name=f"{cfg.name}-{self.system}-agent-install",
            name="AWS-ConfigureAWSPackage",
            parameters={"action": ["Install"], "name": ["AmazonCloudWatchAgent"]},
            targets=targets,
            schedule_expression="rate(14 days)",
        )
        for suffix, family in sorted(self.families.items()):
            log_group_name = f"{self.log_prefix}/{suffix}"
            log_group = encrypted_log_group(
                self,
                f"{pascal(suffix)}Logs",
                key=self.logs_key,
                retention_days=cfg.logging.retention_days,
                name=log_group_name,
            )
            parameter_name = f"AmazonCloudWatch-{cfg.name}-{self.system}-{suffix}"
            parameter = ssm.CfnParameter(
                self,
                f"{pascal(suffix)}AgentConfig",
                name=parameter_name,
                type="String",
                tier="Standard",
                value=family.agent_config(log_group_name),  # literal: the agent reads it as plain JSON
                description=f"CloudWatch agent configuration of {self.system} {family.name} hosts",
            )
            configure = ssm.CfnAssociation(
                self,
                f"{pascal(suffix)}AgentConfigure",
                association_name=f"{cfg.name}-{self.system}-agent-{suffix}",
                name="AmazonCloudWatch-ManageAgent",
                parameters={
                    "action": ["configure"],
                    "mode": ["ec2"],
                    "optionalConfigurationSource": ["ssm"],
                    "optionalConfigurationLocation": [parameter_name],
                    "optionalRestart": ["yes"],
                },
                targets=[
                    *targets,
                    ssm.CfnAssociation.TargetProperty(key="tag:AgentConfig", values=[suffix]),
                ],
                schedule_expression="rate(14 days)",
            )
            configure.add_resource_dependency(install)
            configure.add_resource_dependency(parameter)
            configure.node.add_dependency(log_group)

    # ----- patching -----

    def _patching(self, conf: BusinessSystem) -> None:
        cfg = self.cfg
        patching = cfg.patching
        assert patching is not None  # config validation requires it when systems exist
        by_os: dict[str, list[str]] = {}
        for role_name, role in conf.roles.items():
            by_os.setdefault(role.os, []).append(role_name)
        for os_name, roles in sorted(by_os.items()):
            filters = PATCH_FILTERS[os_name]  # type: ignore[index]
            source = patching.sources.get(os_name)  # type: ignore[call-overload]
            sources = None
            if source is not None and os_name == "rhel-9":
                sources = [
                    ssm.CfnPatchBaseline.PatchSourceProperty(
                        name="city-rhel9-mirror", products=RHEL_9_PRODUCTS, configuration=rhel_repositories(source.url)
                    )
                ]
            ssm.CfnPatchBaseline(
                self,
                f"{pascal(os_name)}Baseline",
                name=f"{cfg.name}-{self.system}-{os_name}",
                description=f"{self.system} {os_name}: approved {patching.approve_after_days} days after release",
                operating_system=PATCH_OPERATING_SYSTEM[os_name],  # type: ignore[index]
                approval_rules=ssm.CfnPatchBaseline.RuleGroupProperty(
                    patch_rules=[
                        ssm.CfnPatchBaseline.RuleProperty(
                            approve_after_days=patching.approve_after_days,
                            compliance_level="CRITICAL",
                            enable_non_security=os_name != "windows-server-2022-ja" or None,
                            patch_filter_group=ssm.CfnPatchBaseline.PatchFilterGroupProperty(
                                patch_filters=[
                                    ssm.CfnPatchBaseline.PatchFilterProperty(key=key, values=values)
                                    for key, values in filters.items()
                                ]
                            ),
                        )
                    ]
                ),
                patch_groups=[patch_group(cfg, self.system, role) for role in roles],
                sources=sources,
            )
        wsus = patching.sources.get("windows-server-2022-ja")
        if wsus is not None and "windows-server-2022-ja" in by_os:
            ssm.CfnAssociation(
                self,
                "WindowsUpdateServer",
                association_name=f"{cfg.name}-{self.system}-wsus",
                name="AWS-RunPowerShellScript",
                parameters={"commands": wsus_script(wsus.url)},
                targets=[
                    ssm.CfnAssociation.TargetProperty(key="tag:System", values=[self.system]),
                    ssm.CfnAssociation.TargetProperty(key="tag:AgentConfig", values=["windows-events"]),
                ],
                schedule_expression="rate(1 day)",
            )

        output = encrypted_log_group(
            self,
            "PatchingLogs",
            key=self.logs_key,
            retention_days=cfg.logging.retention_days,
            name=f"{self.log_prefix}/patching",
        )
        windows = [("Scan", "Scan", patching.scan_schedule, None)] + [
            (f"Install{wave.upper()}", "Install", schedule, wave)
            for wave, schedule in zip(WAVES, patching.install_schedules, strict=True)
        ]
        for construct_id, operation, schedule, wave in windows:
            window = ssm.CfnMaintenanceWindow(
                self,
                f"{construct_id}Window",
                name=f"{cfg.name}-{self.system}-{construct_id.lower()}",
                description=f"{self.system}: patch {operation.lower()}" + (f", wave {wave}" if wave else ""),
                schedule=schedule,
                schedule_timezone=patching.timezone,
                duration=patching.window_hours,
                cutoff=1,
                allow_unassociated_targets=False,
            )
            tags = [ssm.CfnMaintenanceWindowTarget.TargetsProperty(key="tag:System", values=[self.system])]
            if wave:
                tags.append(ssm.CfnMaintenanceWindowTarget.TargetsProperty(key=f"tag:{WAVE_TAG}", values=[wave]))
            target = ssm.CfnMaintenanceWindowTarget(
                self,
                f"{construct_id}Targets",
                window_id=window.ref,
                resource_type="INSTANCE",
                targets=tags,
            )
            ssm.CfnMaintenanceWindowTask(
                self,
                f"{construct_id}Task",
                window_id=window.ref,
                task_type="RUN_COMMAND",
                task_arn="AWS-RunPatchBaseline",
                priority=1,
                max_concurrency="50%",
                max_errors="25%",
                targets=[ssm.CfnMaintenanceWindowTask.TargetProperty(key="WindowTargetIds", values=[target.ref])],
                task_invocation_parameters=ssm.CfnMaintenanceWindowTask.TaskInvocationParametersProperty(
                    maintenance_window_run_command_parameters=ssm.CfnMaintenanceWindowTask.MaintenanceWindowRunCommandParametersProperty(
                        parameters={
                            "Operation": [operation],
                            "RebootOption": ["RebootIfNeeded" if operation == "Install" else "NoReboot"],
                        },
                        cloud_watch_output_config=ssm.CfnMaintenanceWindowTask.CloudWatchOutputConfigProperty(
                            cloud_watch_log_group_name=output.log_group_name, cloud_watch_output_enabled=True
                        ),
                    )
                ),
            )

    # ----- backup -----

    def _backup(self) -> None:
        """Vault with Vault Lock, plan with daily, weekly and monthly rules each copied to Osaka, selections that
        cover every host and data volume, and a restore test on a schedule."""
        cfg = self.cfg
        settings = cfg.backup
        assert settings is not None  # config validation requires it when systems exist
        vault = backup.CfnBackupVault(
            self,
            "Vault",
            backup_vault_name=cfg.backup_vault_name(self.system),
            encryption_key_arn=self.data_key.key_arn,
            lock_configuration=vault_lock(settings),
        )
        vault.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        dr_vault = cfg.backup_vault_arn(self.system, cfg.regions.dr.name)
        rules = []
        for rule_name in ("daily", "weekly", "monthly"):
            rule = getattr(settings, rule_name)
            lifecycle = backup.CfnBackupPlan.LifecycleResourceTypeProperty(delete_after_days=rule.keep_days)
            rules.append(
                backup.CfnBackupPlan.BackupRuleResourceTypeProperty(
                    rule_name=rule_name,
                    target_backup_vault=vault.backup_vault_name,
                    schedule_expression=rule.schedule,
                    start_window_minutes=60,
                    completion_window_minutes=8 * 60,
                    lifecycle=lifecycle,
                    copy_actions=[
                        backup.CfnBackupPlan.CopyActionResourceTypeProperty(
                            destination_backup_vault_arn=dr_vault, lifecycle=lifecycle
                        )
                    ],
                )
            )
        plan = backup.CfnBackupPlan(
            self,
            "Plan",
            backup_plan=backup.CfnBackupPlan.BackupPlanResourceTypeProperty(
                backup_plan_name=f"{cfg.name}-{self.system}", backup_plan_rule=rules
            ),
        )
        plan.add_resource_dependency(vault)
        role = iam.Role(
            self,
            "BackupRole",
            role_name=f"{cfg.name}-{self.system}-backup",
            assumed_by=iam.ServicePrincipal("backup.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(f"service-role/{name}")
                for name in ("AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores")
            ],
        )
        for name in ("AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores"):
            acknowledge(
                role,
                f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{name}]",
                "AWS Backup's own service-role policy: AWS keeps its actions in step with what backup, copy and "
                "restore of each resource type need; this role can be assumed by AWS Backup only.",
            )
        tag_value = f"{cfg.name}-{self.system}"
        backup.CfnBackupSelection(
            self,
            "HostsByTag",
            backup_plan_id=plan.attr_backup_plan_id,
            backup_selection=backup.CfnBackupSelection.BackupSelectionResourceTypeProperty(
                selection_name=f"{self.system}-hosts",
                iam_role_arn=role.role_arn,
                list_of_tags=[
                    backup.CfnBackupSelection.ConditionResourceTypeProperty(
                        condition_key=BACKUP_TAG, condition_type="STRINGEQUALS", condition_value=tag_value
                    )
                ],
            ),
        )
        if self.volumes:
            # Also by ARN: each data volume gets recovery points of its own (a disk restored without its host),
            # and the NIST rule for EBS backup coverage reads ARN selections only.
            backup.CfnBackupSelection(
                self,
                "DataVolumes",
                backup_plan_id=plan.attr_backup_plan_id,
                backup_selection=backup.CfnBackupSelection.BackupSelectionResourceTypeProperty(
                    selection_name=f"{self.system}-data-volumes",
                    iam_role_arn=role.role_arn,
                    resources=[f"arn:aws:ec2:{self.region}:{self.account}:volume/{v.ref}" for v in self.volumes],
                ),
            )
        self._restore_test(settings.restore_test_schedule, settings.restore_test_window_days, vault, role, tag_value)

    def _restore_test(
        self, schedule: str, window_days: int, vault: backup.CfnBackupVault, role: iam.Role, tag_value: str
    ) -> None:
        """Restores the latest recovery point of a host into an isolated security group and measures the time."""
        cfg = self.cfg
        plan_name = f"{cfg.name}_{self.system}".replace("-", "_")
        isolated = ec2.SecurityGroup(
            self,
            "RestoreTestSecurityGroup",
            vpc=self.vpc,
            description=f"{self.system} restore tests: no traffic in, HTTPS to the hub endpoints only",
            allow_all_outbound=False,
        )
        isolated.add_egress_rule(
            ec2.Peer.ipv4(cfg.network.hub_cidr), ec2.Port.tcp(HTTPS), "Hub endpoints (SSM, to validate)"
        )
        test_plan = backup.CfnRestoreTestingPlan(
            self,
            "RestoreTestPlan",
            restore_testing_plan_name=plan_name,
            schedule_expression=schedule,
            schedule_expression_timezone="Asia/Tokyo",
            start_window_hours=4,
            recovery_point_selection=backup.CfnRestoreTestingPlan.RestoreTestingRecoveryPointSelectionProperty(
                algorithm="LATEST_WITHIN_WINDOW",
                include_vaults=[vault.attr_backup_vault_arn],
                recovery_point_types=["SNAPSHOT"],
                selection_window_days=window_days,
            ),
        )
        subnet = self.vpc.select_subnets(subnet_group_name="Application").subnets[0]
        selection = backup.CfnRestoreTestingSelection(
            self,
            "RestoreTestHosts",
            restore_testing_plan_name=plan_name,
            restore_testing_selection_name=f"{plan_name}_hosts",
            protected_resource_type="EC2",
            iam_role_arn=role.role_arn,
            protected_resource_arns=["*"],
            protected_resource_conditions=backup.CfnRestoreTestingSelection.ProtectedResourceConditionsProperty(
                string_equals=[
                    backup.CfnRestoreTestingSelection.KeyValueProperty(
                        key=f"aws:ResourceTag/{BACKUP_TAG}", value=tag_value
                    )
                ]
            ),
            restore_metadata_overrides={
                "subnetId": subnet.subnet_id,
                "securityGroupIds": cdk.Fn.join("", ['["', isolated.security_group_id, '"]']),
                "requireImdsV2": "true",
            },
            validation_window_hours=4,
        )
        selection.add_resource_dependency(test_plan)


def vault_lock(settings: Backup) -> backup.CfnBackupVault.LockConfigurationTypeProperty:
    """Vault Lock: governance (removable by privileged users) or compliance (fixed after its 3-day grace period)."""
    return backup.CfnBackupVault.LockConfigurationTypeProperty(
        min_retention_days=settings.min_retention_days,
        max_retention_days=settings.max_retention_days,
        changeable_for_days=3 if settings.vault_lock_mode == "compliance" else None,
    )
