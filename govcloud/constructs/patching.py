"""Patch Manager for one business system: baselines per operating system, the patch sources the closed network
needs, a daily scan and two staggered install waves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import aws_kms as kms
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from govcloud.config import Patching, pascal
from govcloud.constructs.log_groups import encrypted_log_group
from govcloud.naming import AGENT_CONFIG_TAG, SYSTEM_TAG, WAVE_TAG, WAVES
from govcloud.os_profiles import PROFILES, mirror_repositories, wsus_script


class PatchManagement(Construct):
    """``patch_groups`` maps each operating system in use to the patch groups (one per role) of its hosts; hosts
    carry ``Patch Group=<group>``, ``System=<system>`` and ``PatchWave=a|b``. Command output goes to an
    encrypted log group."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        system: str,
        name_prefix: str,
        settings: Patching,
        patch_groups: Mapping[str, Sequence[str]],
        log_group_name: str,
        logs_key: kms.IKey,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        for os_name, groups in sorted(patch_groups.items()):
            self._baseline(os_name, groups, name_prefix, system, settings)
        # One WSUS serves every Windows version (config validation: one URL).
        wsus = next(
            (settings.sources[os] for os in sorted(patch_groups) if PROFILES[os].patch_source == "wsus" and os in
             settings.sources),
            None,
        )  # fmt: skip
        if wsus is not None:
            ssm.CfnAssociation(
                self,
                "WindowsUpdateServer",
                association_name=f"{name_prefix}-wsus",
                name="AWS-RunPowerShellScript",
                parameters={"commands": wsus_script(wsus.url)},
                targets=[
                    ssm.CfnAssociation.TargetProperty(key=f"tag:{SYSTEM_TAG}", values=[system]),
                    ssm.CfnAssociation.TargetProperty(key=f"tag:{AGENT_CONFIG_TAG}", values=["windows-events"]),
                ],
                schedule_expression="rate(1 day)",
            )
        output = encrypted_log_group(self, "Logs", key=logs_key, retention_days=log_retention_days, name=log_group_name)
        windows = [("Scan", "Scan", settings.scan_schedule, None)] + [
            (f"Install{wave.upper()}", "Install", schedule, wave)
            for wave, schedule in zip(WAVES, settings.install_schedules, strict=True)
        ]
        for construct_id_, operation, schedule, wave in windows:
            task = self._window(construct_id_, operation, schedule, wave, system, name_prefix, settings, log_group_name)
            task.node.add_dependency(output)

    def _baseline(self, os_name: str, groups: Sequence[str], name_prefix: str, system: str, settings: Patching) -> None:
        profile = PROFILES[os_name]
        source = settings.sources.get(os_name)
        sources = None
        if source is not None and profile.patch_source == "yum-mirror":
            sources = [
                ssm.CfnPatchBaseline.PatchSourceProperty(
                    name=f"city-{profile.mirror_label}-mirror",
                    products=list(profile.mirror_products),
                    configuration=mirror_repositories(profile, source.url),
                )
            ]
        ssm.CfnPatchBaseline(
            self,
            f"{pascal(os_name)}Baseline",
            name=f"{name_prefix}-{os_name}",
            description=f"{system} {os_name}: approved {settings.approve_after_days} days after release",
            operating_system=profile.patch_operating_system,
            approval_rules=ssm.CfnPatchBaseline.RuleGroupProperty(
                patch_rules=[
                    ssm.CfnPatchBaseline.RuleProperty(
                        approve_after_days=settings.approve_after_days,
                        compliance_level="CRITICAL",
                        # Linux only: also approve the bug-fix classification, not only security updates.
                        enable_non_security=True if profile.approves_non_security else None,
                        patch_filter_group=ssm.CfnPatchBaseline.PatchFilterGroupProperty(
                            patch_filters=[
                                ssm.CfnPatchBaseline.PatchFilterProperty(key=key, values=values)
                                for key, values in profile.patch_filters.items()
                            ]
                        ),
                    )
                ]
            ),
            patch_groups=list(groups),
            sources=sources,
        )

    def _window(
        self,
        construct_id: str,
        operation: str,
        schedule: str,
        wave: str | None,
        system: str,
        name_prefix: str,
        settings: Patching,
        log_group_name: str,
    ) -> ssm.CfnMaintenanceWindowTask:
        window = ssm.CfnMaintenanceWindow(
            self,
            f"{construct_id}Window",
            name=f"{name_prefix}-{construct_id.lower()}",
            description=f"{system}: patch {operation.lower()}" + (f", wave {wave}" if wave else ""),
            schedule=schedule,
            schedule_timezone=settings.timezone,
            duration=settings.window_hours,
            cutoff=1,
            allow_unassociated_targets=False,
        )
        tags = [ssm.CfnMaintenanceWindowTarget.TargetsProperty(key=f"tag:{SYSTEM_TAG}", values=[system])]
        if wave:
            tags.append(ssm.CfnMaintenanceWindowTarget.TargetsProperty(key=f"tag:{WAVE_TAG}", values=[wave]))
        target = ssm.CfnMaintenanceWindowTarget(
            self, f"{construct_id}Targets", window_id=window.ref, resource_type="INSTANCE", targets=tags
        )
        run_command = ssm.CfnMaintenanceWindowTask.MaintenanceWindowRunCommandParametersProperty(
            parameters={
                "Operation": [operation],
                "RebootOption": ["RebootIfNeeded" if operation == "Install" else "NoReboot"],
            },
            cloud_watch_output_config=ssm.CfnMaintenanceWindowTask.CloudWatchOutputConfigProperty(
                cloud_watch_log_group_name=log_group_name, cloud_watch_output_enabled=True
            ),
        )
        return ssm.CfnMaintenanceWindowTask(
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
                maintenance_window_run_command_parameters=run_command
            ),
        )
