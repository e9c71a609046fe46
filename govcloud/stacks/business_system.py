"""One standard business system (標準準拠システム) in its own account and spoke: hosts, access, monitoring, patching
and backup, all from the system's entry in config. The resident registry (住民記録) is the first."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_elasticloadbalancingv2_targets as elb_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

from govcloud import naming
from govcloud.compliance.packs import acknowledge, acknowledge_wildcards
from govcloud.config import (
    CITY_HALL,
    BusinessSystem,
    Config,
    HostRole,
    pascal,
)
from govcloud.constructs.data_volumes import DataVolumes
from govcloud.constructs.host_agent import CloudWatchAgent
from govcloud.constructs.hosts import HardenedHost, HostIdentity, HostLogs
from govcloud.constructs.keys import key_by_alias_statement
from govcloud.constructs.patching import PatchManagement
from govcloud.constructs.session_manager import SessionManager
from govcloud.constructs.system_backup import SystemBackup
from govcloud.naming import AGENT_CONFIG_TAG, BACKUP_TAG, IMAGE_TAG, OS_TAG, ROLE_TAG, WAVE_TAG, host_name, wave_of
from govcloud.os_profiles import PROFILES, ssm_agent_install
from govcloud.prerequisites import ELB_LOG_ACCOUNTS
from govcloud.stacks.base import GovCloudStack
from govcloud.stacks.linkage import SUBSCRIBER_QUEUE_ACTIONS

TIER_SUBNETS = naming.TIER_SUBNETS
HTTPS = 443


def host_id(host_role: str, index: int) -> str:
    """Logical ID and name suffix of a host: ``web`` 0 -> ``Web1``."""
    return f"{pascal(host_role)}{index + 1}"


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
            account=conf.account,
            summary=f"business system '{system}' ({conf.name_ja}): hosts, load balancer, monitoring, patching, backup",
            system=system,
            classification="restricted",
        )
        self.system = system
        self.name_prefix = naming.system_prefix(cfg, system)
        self.log_prefix = naming.system_log_prefix(cfg, system)
        self.vpc = vpc
        self.data_key = data_key
        self.logs_key = logs_key
        self.topic = self._operations_topic(conf)
        self.groups = host_security_groups(self, cfg, system, vpc)
        identity = self._host_identity()
        self._hosts(identity)
        self._patching()
        self._backup()

    def _host_identity(self) -> HostIdentity:
        """Session Manager, the CloudWatch agent, the role the hosts run as, and the linkage callers they assume."""
        cfg, system, name_prefix, log_prefix, logs_key = (
            self.cfg,
            self.system,
            self.name_prefix,
            self.log_prefix,
            self.logs_key,
        )
        conf = cfg.systems[system]
        families = {PROFILES[r.os].family.log_group_suffix: PROFILES[r.os].family for r in conf.roles.values()}

        sessions = SessionManager(
            self,
            "Sessions",
            key_alias=naming.session_key_alias(cfg, system),
            description=f"{cfg.name} {system}",
            log_bucket_name=naming.log_bucket(cfg),
            log_prefix=naming.SESSION_LOGS_PREFIX,
            log_group_name=f"{log_prefix}/sessions",
            logs_key=logs_key,
            log_retention_days=cfg.logging.retention_days,
        )
        agent = CloudWatchAgent(
            self,
            "Agent",
            system=system,
            name_prefix=name_prefix,
            log_group_prefix=log_prefix,
            families=families,
            operating_systems=[spec.os for spec in conf.roles.values()],
            logs_key=logs_key,
            log_retention_days=cfg.logging.retention_days,
        )
        identity = HostIdentity(
            self,
            "HostIdentity",
            role_names={role: naming.host_role(cfg, system, role) for role in conf.roles},
            description=f"Hosts of {system}: Session Manager, CloudWatch agent, Patch Manager only",
            agent_parameter_names=agent.parameter_names,
            logs=HostLogs(
                log_group_prefix=log_prefix,
                logs_key=logs_key,
                archive_bucket=naming.log_bucket(cfg),
                archive_prefix=naming.SESSION_LOGS_PREFIX,
                archive_account=naming.log_archive_account_id(cfg),
                archive_key_alias=cfg.log_archive.key_alias,
                session_key=sessions.key,
            ),
        )

        callers = [identity.roles[role] for role, spec in sorted(conf.roles.items()) if spec.linkage_caller]
        self.linkage_callers = self._linkage_callers(callers)
        return identity

    def _hosts(self, identity: HostIdentity) -> None:
        """The hosts of every role, their data volumes mounted, and the load balancer."""
        cfg, system, name_prefix = self.cfg, self.system, self.name_prefix
        conf = cfg.systems[system]
        backup_tag = {BACKUP_TAG: name_prefix}
        self.hosts: dict[str, list[HardenedHost]] = {
            host_role: [self._host(host_role, spec, i, identity, backup_tag) for i in range(spec.count)]
            for host_role, spec in conf.roles.items()
        }
        volumes = DataVolumes(self, "DataVolumes", name=f"{name_prefix}-data-volume")
        for hosts in self.hosts.values():
            for host in hosts:
                if host.data_volume is not None and host.data_attachment is not None:
                    volumes.mount(
                        host,
                        "DataVolumeMount",
                        host_name=host.name,
                        instance_id=host.instance.ref,
                        volume_id=host.data_volume.ref,
                        attachment=host.data_attachment,
                    )
        self._load_balancer(conf)

    def _patching(self) -> None:
        cfg, system, name_prefix, log_prefix, logs_key = (
            self.cfg,
            self.system,
            self.name_prefix,
            self.log_prefix,
            self.logs_key,
        )
        conf = cfg.systems[system]
        assert cfg.patching is not None and cfg.backup is not None  # config validation requires both with systems
        patch_groups: dict[str, list[str]] = {}
        for host_role, spec in conf.roles.items():
            patch_groups.setdefault(spec.os, []).append(naming.patch_group(cfg, system, host_role))
        PatchManagement(
            self,
            "Patching",
            system=system,
            name_prefix=name_prefix,
            settings=cfg.patching,
            patch_groups=patch_groups,
            log_group_name=f"{log_prefix}/patching",
            logs_key=logs_key,
            log_retention_days=cfg.logging.retention_days,
        )

    def _backup(self) -> None:
        cfg, system, name_prefix = self.cfg, self.system, self.name_prefix
        assert cfg.backup is not None  # config validation requires it with systems
        SystemBackup(
            self,
            "Backup",
            name=naming.backup_vault(cfg, system),
            settings=cfg.backup,
            key=self.data_key,
            copy_vault_arn=naming.backup_vault_arn(cfg, system, cfg.regions.dr.name),
            tag_value=name_prefix,
            data_volumes=[h.data_volume for hosts in self.hosts.values() for h in hosts if h.data_volume],
            vpc=self.vpc,
            restore_subnet=self.vpc.select_subnets(subnet_group_name="Application").subnets[0],
            endpoints_cidr=cfg.network.hub_cidr,
        )

    # ----- alarms' destination -----

    def _operations_topic(self, conf: BusinessSystem) -> sns.Topic:
        topic = sns.Topic(
            self,
            "OperationsTopic",
            topic_name=naming.operations_topic(self.cfg, self.system),
            display_name=f"{conf.name_ja} operations",
            master_key=self.logs_key,
            enforce_ssl=True,
        )
        for email in conf.operations_emails:
            topic.add_subscription(subs.EmailSubscription(email))
        return topic

    # ----- network access -----

    # ----- identities: the linkage callers the hosts assume -----

    def _linkage_callers(self, host_iam_roles: list[iam.Role]) -> list[iam.Role]:
        """The roles this system calls the data linkage platform with, as named in ``linkage.systems``, assumed
        only by the hosts of its roles marked ``linkage_caller``. The platform's resource policies (API, exchange
        bucket, queue, keys) admit these roles by name; a call across accounts also needs the caller's own
        permission, which is this policy: the API routes, inbox folders and queue of this system's datasets,
        nothing else."""
        cfg = self.cfg
        caller = cfg.linkage_caller_in(cfg.systems[self.system].spoke)
        if caller is None or cfg.linkage is None:
            return []
        link = cfg.linkage
        region, account = cfg.regions.primary.name, cfg.account_id(link.account)
        produces = sorted(name for name, d in link.datasets.items() if d.producer == caller)
        subscribes = sorted(name for name, d in link.datasets.items() if caller in d.subscribers)
        api = f"arn:aws:execute-api:{region}:{account}:*/*"  # any API ID and stage: the ID is the other account's
        statements = []
        if produces:
            statements += [
                iam.PolicyStatement(
                    sid="PostOwnDatasets",
                    actions=["execute-api:Invoke"],
                    resources=[api + naming.dataset_route("POST", name) for name in produces],
                ),
                iam.PolicyStatement(
                    sid="UploadToOwnInboxFolders",
                    actions=["s3:PutObject"],
                    resources=[
                        f"arn:aws:s3:::{naming.exchange_bucket(cfg)}/{naming.inbox_objects(n, caller)}"
                        for n in produces
                    ],
                ),
                key_by_alias_statement(
                    "EncryptUploadsThroughS3",
                    ["kms:GenerateDataKey", "kms:Decrypt"],
                    account=account,
                    region=region,
                    alias=naming.key_alias(cfg, "linkage"),
                    via="s3",
                ),
            ]
        if subscribes:
            statements += [
                iam.PolicyStatement(
                    sid="GetSubscribedRecords",
                    actions=["execute-api:Invoke"],
                    resources=[api + naming.dataset_route("GET", name) for name in subscribes],
                ),
                iam.PolicyStatement(
                    sid="ReadSubscribedFiles",
                    actions=["s3:GetObject"],
                    resources=[
                        f"arn:aws:s3:::{naming.exchange_bucket(cfg)}/{naming.outbox_objects(n)}" for n in subscribes
                    ],
                ),
                key_by_alias_statement(
                    "DecryptFilesThroughS3",
                    ["kms:Decrypt"],
                    account=account,
                    region=region,
                    alias=naming.key_alias(cfg, "linkage"),
                    via="s3",
                ),
            ]
        if produces or subscribes:
            # Its queue: notices of new batches of what it subscribes to, and of its own batches that were refused.
            statements += [
                iam.PolicyStatement(
                    sid="ReadOwnQueue",
                    actions=SUBSCRIBER_QUEUE_ACTIONS,
                    resources=[f"arn:aws:sqs:{region}:{account}:{naming.system_queue(cfg, caller)}"],
                ),
                key_by_alias_statement(
                    "DecryptQueueMessages",
                    ["kms:Decrypt"],
                    account=account,
                    region=region,
                    alias=naming.queue_key_alias(cfg),
                    via="sqs",
                ),
            ]
        if not statements:
            return []
        caller_roles = [
            iam.Role(
                self,
                f"LinkageCaller-{name}",
                role_name=name,
                assumed_by=iam.CompositePrincipal(*host_iam_roles) if len(host_iam_roles) > 1 else host_iam_roles[0],
                description=f"{self.system} calling the data linkage platform as {caller!r}",
            )
            for name in link.systems[caller].caller_roles
        ]
        policy = iam.ManagedPolicy(self, "LinkageCallerPolicy", roles=caller_roles, statements=statements)
        acknowledge_wildcards(
            policy,
            statements,
            "The API's ID and stage are the linkage account's and cannot be referenced from this account; its "
            "resource policy admits only these roles, through this spoke's endpoint, on these routes. Keys are "
            "named by alias and used only through S3 or SQS; the inbox and queue are this system's own.",
        )
        iam.ManagedPolicy(
            self,
            "HostsAssumeLinkageCaller",
            roles=host_iam_roles,
            statements=[
                iam.PolicyStatement(
                    sid="AssumeLinkageCallerRoles",
                    actions=["sts:AssumeRole"],
                    resources=[r.role_arn for r in caller_roles],
                )
            ],
        )
        return caller_roles

    # ----- hosts -----

    def _host(
        self, host_role: str, spec: HostRole, index: int, identity: HostIdentity, backup_tag: dict[str, str]
    ) -> HardenedHost:
        cfg = self.cfg
        family = PROFILES[spec.os].family
        subnets = self.vpc.select_subnets(subnet_group_name=TIER_SUBNETS[spec.tier]).subnets
        region = cfg.regions.primary.name
        launch = spec.launched_from or spec.ami
        assert isinstance(launch, dict)  # config validation: "latest" needs a pinned launched_from
        return HardenedHost(
            self,
            host_id(host_role, index),
            name=host_name(cfg.name, self.system, host_role, index),
            family=family,
            image_id=launch[region],
            instance_type=spec.instance_type,
            subnet=subnets[index % len(subnets)],  # spread over the zones in order
            security_group_id=self.groups[host_role].security_group_id,
            profile_name=identity.profile_names[host_role],
            key=self.data_key,
            root_volume_gb=spec.root_volume_gb,
            data_volume_gb=spec.data_volume_gb,
            tags={
                ROLE_TAG: host_role,
                "Patch Group": naming.patch_group(cfg, self.system, host_role),
                WAVE_TAG: wave_of(index),
                AGENT_CONFIG_TAG: family.log_group_suffix,
                OS_TAG: spec.os,
                IMAGE_TAG: spec.ami[region] if isinstance(spec.ami, dict) else spec.ami,
                **backup_tag,
            },
            volume_tags=backup_tag,
            topic_arn=self.topic.topic_arn,
            termination_protection=cfg.is_production,
            user_data=ssm_agent_install(region) if PROFILES[spec.os].installs_ssm_agent else None,
        )

    def _load_balancer(self, conf: BusinessSystem) -> None:
        if conf.balanced_role is None:
            return
        assert conf.certificate_arn is not None  # config validation requires it
        internal_load_balancer(
            self,
            self.vpc,
            self.groups["load-balancer"],
            conf,
            certificate_arn=conf.certificate_arn,
            instance_ids=[host.instance.ref for host in self.hosts[conf.balanced_role]],
        )


def internal_load_balancer(
    stack: GovCloudStack,
    vpc: ec2.IVpc,
    group: ec2.ISecurityGroup,
    conf: BusinessSystem,
    *,
    certificate_arn: str,
    instance_ids: list[str] | None,
) -> elbv2.ApplicationTargetGroup:
    """The system's internal load balancer in its application subnets: TLS from the city hall on 443 with the
    certificate, forwarding to the balanced role's first port over TLS, access logs in the account's log bucket.
    ``instance_ids`` None: a target group without targets, which hosts join when they are restored."""
    host_role = conf.balanced_role
    assert host_role is not None  # callers build a load balancer only for a system with a balanced role
    port = conf.roles[host_role].ports[0]
    lb = elbv2.ApplicationLoadBalancer(
        stack,
        "LoadBalancer",
        vpc=vpc,
        internet_facing=False,
        vpc_subnets=ec2.SubnetSelection(subnet_group_name="Application"),
        security_group=group,
        drop_invalid_header_fields=True,
        deletion_protection=stack.cfg.is_production,
    )
    _load_balancer_logs(stack, lb)
    acknowledge(
        lb,
        "NIST.800.53.R5-ALBWAFEnabled",
        "Internal load balancer on the closed network, reachable only from the city hall CIDRs of the segment; "
        "no internet traffic reaches it for a web ACL to filter.",
    )
    if not stack.cfg.is_production:
        acknowledge(
            lb,
            "NIST.800.53.R5-ELBDeletionProtectionEnabled",
            "Staging load balancers can be deleted so the environment can be rebuilt; production turns it on.",
        )
    listener = lb.add_listener(
        "Https",
        port=HTTPS,
        protocol=elbv2.ApplicationProtocol.HTTPS,
        certificates=[elbv2.ListenerCertificate.from_arn(certificate_arn)],
        ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
        open=False,
    )
    health = elbv2.HealthCheck(protocol=elbv2.Protocol.HTTPS, healthy_http_codes="200-399")
    if instance_ids is not None:
        return listener.add_targets(
            pascal(host_role),
            port=port,
            protocol=elbv2.ApplicationProtocol.HTTPS,
            targets=[elb_targets.InstanceIdTarget(i) for i in instance_ids],
            health_check=health,
        )
    targets = elbv2.ApplicationTargetGroup(
        listener,
        f"{pascal(host_role)}Group",
        vpc=vpc,
        port=port,
        protocol=elbv2.ApplicationProtocol.HTTPS,
        target_type=elbv2.TargetType.INSTANCE,
        health_check=health,
    )
    listener.add_target_groups(pascal(host_role), target_groups=[targets])
    return targets


def _load_balancer_logs(stack: GovCloudStack, lb: elbv2.ApplicationLoadBalancer) -> None:
    """Access logs of the load balancer. The bucket policy is ours, not ``log_access_logs``'s: each grant to the
    log delivery service names this account (``aws:SourceAccount``), so no other account's load balancer can
    write here through the service (a confused deputy)."""
    bucket, prefix, account = stack.access_log_bucket(), "load-balancer", stack.account
    objects = bucket.arn_for_objects(f"{prefix}/AWSLogs/{account}/*")
    # Regions older than 2022 (Tokyo among them) deliver from Elastic Load Balancing's account, newer ones from
    # the log delivery service; both are admitted, for this account's objects only.
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="LoadBalancerLogsFromElbAccount",
            principals=[iam.AccountPrincipal(ELB_LOG_ACCOUNTS[stack.region])],
            actions=["s3:PutObject"],
            resources=[objects],
        )
    )
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="LoadBalancerLogsFromLogDelivery",
            principals=[iam.ServicePrincipal("delivery.logs.amazonaws.com")],
            actions=["s3:PutObject"],
            resources=[objects],
            conditions={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceAccount": account}},
        )
    )
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="LoadBalancerLogsAclCheck",
            principals=[iam.ServicePrincipal("delivery.logs.amazonaws.com")],
            actions=["s3:GetBucketAcl"],
            resources=[bucket.bucket_arn],
            conditions={"StringEquals": {"aws:SourceAccount": account}},
        )
    )
    lb.set_attribute("access_logs.s3.enabled", "true")
    lb.set_attribute("access_logs.s3.bucket", bucket.bucket_name)
    lb.set_attribute("access_logs.s3.prefix", prefix)
    assert bucket.policy is not None
    lb.node.add_dependency(bucket.policy)  # ELB checks it can write when logging is switched on


def host_security_groups(scope: Construct, cfg: Config, system: str, vpc: ec2.IVpc) -> dict[str, ec2.SecurityGroup]:
    """One group per role (and one for the load balancer): ingress only from the configured callers on the
    configured ports; egress only to the hub's endpoints, S3, the patch source and called roles."""
    conf = cfg.systems[system]
    net = cfg.network
    city_hall = list(net.segments[net.spokes[conf.spoke].segment].on_premises_cidrs)
    patching = cfg.patching
    spoke = net.spokes[conf.spoke]
    # Endpoints kept in the spoke (execute-api for the linkage API) live in its application subnets; their
    # private DNS names resolve there, so the hosts must reach them besides the hub's.
    own_endpoint_subnets = (
        [s.ipv4_cidr_block for s in vpc.select_subnets(subnet_group_name="Application").subnets]
        if spoke.endpoints_in_spoke
        else []
    )
    assert not any(cdk.Token.is_unresolved(c) for c in own_endpoint_subnets)  # literal CIDRs for cdk-nag rules
    groups: dict[str, ec2.SecurityGroup] = {}
    for host_role, spec in conf.roles.items():
        group = ec2.SecurityGroup(
            scope,
            f"{pascal(host_role)}SecurityGroup",
            vpc=vpc,
            description=f"{system} {host_role} hosts",
            allow_all_outbound=False,
        )
        group.add_egress_rule(ec2.Peer.ipv4(net.hub_cidr), ec2.Port.tcp(HTTPS), "Hub endpoints (SSM, logs, KMS)")
        for cidr in own_endpoint_subnets:
            group.add_egress_rule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(HTTPS), "This spoke's own endpoints")
        group.add_egress_rule(
            ec2.Peer.prefix_list(net.s3_prefix_list_id), ec2.Port.tcp(HTTPS), "S3 (agents, patches, repositories)"
        )
        source = patching.sources.get(spec.os) if patching else None
        if source is not None:
            group.add_egress_rule(ec2.Peer.ipv4(source.cidr), ec2.Port.tcp(HTTPS), f"Patch source {source.url}")
        groups[host_role] = group
    for host_role, spec in conf.roles.items():
        for caller in spec.callers:
            for port in spec.ports:
                if caller == CITY_HALL:
                    for cidr in city_hall:
                        groups[host_role].add_ingress_rule(
                            ec2.Peer.ipv4(cidr), ec2.Port.tcp(port), f"City hall to {host_role}"
                        )
                else:
                    groups[caller].connections.allow_to(
                        groups[host_role], ec2.Port.tcp(port), f"{caller} to {host_role}"
                    )
    target = conf.balanced_role
    if target is not None:
        lb = ec2.SecurityGroup(
            scope,
            "LoadBalancerSecurityGroup",
            vpc=vpc,
            description=f"{system} internal load balancer: TLS from the city hall",
            allow_all_outbound=False,
        )
        for cidr in city_hall:
            lb.add_ingress_rule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(HTTPS), "City hall users (TLS)")
        lb.connections.allow_to(groups[target], ec2.Port.tcp(conf.roles[target].ports[0]), f"To {target}")
        groups["load-balancer"] = lb
    return groups
