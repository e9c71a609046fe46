"""AWS Backup for one business system, in its own account: a locked vault, a plan whose every recovery point is
copied to Osaka, selections that cover every host and data volume, and a scheduled restore test."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_backup as backup
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from govcloud.compliance.packs import acknowledge
from govcloud.config import Backup
from govcloud.naming import BACKUP_TAG

RULES = ("daily", "weekly", "monthly")
SERVICE_ROLE_POLICIES = ("AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores")


def vault_lock(settings: Backup) -> backup.CfnBackupVault.LockConfigurationTypeProperty:
    """Vault Lock: governance (removable by privileged users) or compliance (fixed after its 3-day grace period)."""
    return backup.CfnBackupVault.LockConfigurationTypeProperty(
        min_retention_days=settings.min_retention_days,
        max_retention_days=settings.max_retention_days,
        changeable_for_days=3 if settings.vault_lock_mode == "compliance" else None,
    )


def locked_vault(
    scope: Construct, construct_id: str, *, name: str, key: kms.IKey, settings: Backup
) -> backup.CfnBackupVault:
    """A vault encrypted with ``key`` under Vault Lock, retained on delete (Tokyo and its copy in Osaka alike)."""
    vault = backup.CfnBackupVault(
        scope,
        construct_id,
        backup_vault_name=name,
        encryption_key_arn=key.key_arn,
        lock_configuration=vault_lock(settings),
    )
    vault.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
    return vault


class SystemBackup(Construct):
    """Hosts tagged ``Backup=<tag_value>`` are selected by tag, ``data_volumes`` also by ARN (each data volume gets
    recovery points of its own, a disk restored without its host; and the NIST rule for EBS backup coverage reads
    ARN selections only). The restore test restores the latest recovery point of a host into an isolated security
    group in ``restore_subnet``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        settings: Backup,
        key: kms.IKey,
        copy_vault_arn: str,
        tag_value: str,
        data_volumes: Sequence[ec2.CfnVolume],
        vpc: ec2.IVpc,
        restore_subnet: ec2.ISubnet,
        endpoints_cidr: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.vault = locked_vault(self, "Vault", name=name, key=key, settings=settings)
        rules = []
        for rule_name in RULES:
            rule = getattr(settings, rule_name)
            lifecycle = backup.CfnBackupPlan.LifecycleResourceTypeProperty(delete_after_days=rule.keep_days)
            rules.append(
                backup.CfnBackupPlan.BackupRuleResourceTypeProperty(
                    rule_name=rule_name,
                    target_backup_vault=name,
                    schedule_expression=rule.schedule,
                    start_window_minutes=60,
                    completion_window_minutes=8 * 60,
                    lifecycle=lifecycle,
                    copy_actions=[
                        backup.CfnBackupPlan.CopyActionResourceTypeProperty(
                            destination_backup_vault_arn=copy_vault_arn, lifecycle=lifecycle
                        )
                    ],
                )
            )
        plan = backup.CfnBackupPlan(
            self,
            "Plan",
            backup_plan=backup.CfnBackupPlan.BackupPlanResourceTypeProperty(
                backup_plan_name=name, backup_plan_rule=rules
            ),
        )
        plan.add_resource_dependency(self.vault)
        role = iam.Role(
            self,
            "Role",
            role_name=f"{name}-backup",
            assumed_by=iam.ServicePrincipal("backup.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(f"service-role/{policy}")
                for policy in SERVICE_ROLE_POLICIES
            ],
        )
        for policy in SERVICE_ROLE_POLICIES:
            acknowledge(
                role,
                f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{policy}]",
                "AWS Backup's own service-role policy: AWS keeps its actions in step with what backup, copy and "
                "restore of each resource type need; this role can be assumed by AWS Backup only.",
            )
        backup.CfnBackupSelection(
            self,
            "HostsByTag",
            backup_plan_id=plan.attr_backup_plan_id,
            backup_selection=backup.CfnBackupSelection.BackupSelectionResourceTypeProperty(
                selection_name=f"{name}-hosts",
                iam_role_arn=role.role_arn,
                list_of_tags=[
                    backup.CfnBackupSelection.ConditionResourceTypeProperty(
                        condition_key=BACKUP_TAG, condition_type="STRINGEQUALS", condition_value=tag_value
                    )
                ],
            ),
        )
        if data_volumes:
            backup.CfnBackupSelection(
                self,
                "DataVolumes",
                backup_plan_id=plan.attr_backup_plan_id,
                backup_selection=backup.CfnBackupSelection.BackupSelectionResourceTypeProperty(
                    selection_name=f"{name}-data-volumes",
                    iam_role_arn=role.role_arn,
                    resources=[f"arn:aws:ec2:{stack.region}:{stack.account}:volume/{v.ref}" for v in data_volumes],
                ),
            )
        self._restore_test(name, settings, role, tag_value, vpc, restore_subnet, endpoints_cidr)

    def _restore_test(
        self,
        name: str,
        settings: Backup,
        role: iam.Role,
        tag_value: str,
        vpc: ec2.IVpc,
        subnet: ec2.ISubnet,
        endpoints_cidr: str,
    ) -> None:
        plan_name = name.replace("-", "_")  # restore testing names allow letters, digits and underscores only
        isolated = ec2.SecurityGroup(
            self,
            "RestoreTestSecurityGroup",
            vpc=vpc,
            description=f"{name} restore tests: no traffic in, HTTPS to the hub endpoints only",
            allow_all_outbound=False,
        )
        isolated.add_egress_rule(ec2.Peer.ipv4(endpoints_cidr), ec2.Port.tcp(443), "Hub endpoints (SSM, to validate)")
        test_plan = backup.CfnRestoreTestingPlan(
            self,
            "RestoreTestPlan",
            restore_testing_plan_name=plan_name,
            schedule_expression=settings.restore_test_schedule,
            schedule_expression_timezone="Asia/Tokyo",
            start_window_hours=4,
            recovery_point_selection=backup.CfnRestoreTestingPlan.RestoreTestingRecoveryPointSelectionProperty(
                algorithm="LATEST_WITHIN_WINDOW",
                include_vaults=[self.vault.attr_backup_vault_arn],
                recovery_point_types=["SNAPSHOT"],
                selection_window_days=settings.restore_test_window_days,
            ),
        )
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
                "vpcId": vpc.vpc_id,
                "subnetId": subnet.subnet_id,
                # A list in a string, as the restore metadata writes lists (e.g. itemsToRestore: '["/path"]').
                "securityGroupIds": cdk.Fn.join("", ['["', isolated.security_group_id, '"]']),
                "requireImdsV2": "true",
            },
            validation_window_hours=4,
        )
        selection.add_resource_dependency(test_plan)
