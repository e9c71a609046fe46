"""Facts about each operating system a business-system host may run, in one table (no CDK import).

Config validation, the host and agent constructs, Patch Manager and the operations tools all read
:data:`PROFILES`; a new operating system is one entry there (its name is what config accepts in ``os``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Literal

AGENT_NAMESPACE = "CWAgent"


@dataclass(frozen=True)
class AgentMetric:
    """A metric the agent publishes per instance (aggregated over disks), and when it is bad."""

    name: str
    statistic: str
    comparison: str
    threshold: float
    title: str


@dataclass(frozen=True)
class OsFamily:
    name: str
    """``windows`` or ``linux``."""
    root_device: str
    memory: AgentMetric
    disk: AgentMetric
    log_group_suffix: str
    data_device: str
    """Where the data volume is attached (the instance sees it by its NVMe serial; this is the mapping's name)."""

    def agent_config(self, log_group_name: str) -> str:
        """The CloudWatch agent's JSON configuration: memory and disk per instance, and the system logs."""
        metrics = {
            "namespace": AGENT_NAMESPACE,
            "append_dimensions": {"InstanceId": "${aws:InstanceId}"},
            # One series per instance besides the per-disk ones: the alarms watch the worst disk.
            "aggregation_dimensions": [["InstanceId"]],
        }
        if self.name == "windows":
            metrics["metrics_collected"] = {
                "Memory": {"measurement": ["% Committed Bytes In Use"], "metrics_collection_interval": 60},
                "LogicalDisk": {"measurement": ["% Free Space"], "resources": ["*"], "metrics_collection_interval": 60},
            }
            logs = {
                "windows_events": {
                    "collect_list": [
                        {
                            "event_name": name,
                            "event_levels": levels,
                            "log_group_name": log_group_name,
                            "log_stream_name": "{instance_id}/" + name,
                        }
                        for name, levels in (
                            ("System", ["CRITICAL", "ERROR", "WARNING"]),
                            ("Application", ["CRITICAL", "ERROR", "WARNING"]),
                            ("Security", ["INFORMATION", "ERROR"]),
                        )
                    ]
                }
            }
        else:
            metrics["metrics_collected"] = {
                "mem": {"measurement": ["mem_used_percent"], "metrics_collection_interval": 60},
                "disk": {
                    "measurement": ["used_percent"],
                    "resources": ["*"],
                    "drop_device": True,
                    "ignore_file_system_types": ["devtmpfs", "tmpfs", "overlay", "squashfs"],
                    "metrics_collection_interval": 60,
                },
            }
            logs = {
                "files": {
                    "collect_list": [
                        {
                            "file_path": path,
                            "log_group_name": log_group_name,
                            "log_stream_name": "{instance_id}" + path,
                        }
                        for path in ("/var/log/messages", "/var/log/secure")
                    ]
                }
            }
        return json.dumps({"metrics": metrics, "logs": {"logs_collected": logs}}, indent=2, sort_keys=True)


WINDOWS = OsFamily(
    name="windows",
    root_device="/dev/sda1",
    memory=AgentMetric("Memory % Committed Bytes In Use", "Maximum", "GreaterThanThreshold", 90, "memory in use"),
    disk=AgentMetric("LogicalDisk % Free Space", "Minimum", "LessThanThreshold", 15, "free disk space (%)"),
    log_group_suffix="windows-events",
    data_device="xvdf",
)
LINUX = OsFamily(
    name="linux",
    root_device="/dev/sda1",
    memory=AgentMetric("mem_used_percent", "Maximum", "GreaterThanThreshold", 90, "memory in use"),
    disk=AgentMetric("disk_used_percent", "Maximum", "GreaterThanThreshold", 85, "disk in use (%)"),
    log_group_suffix="syslog",
    data_device="/dev/sdf",
)
AMAZON_LINUX = dataclasses.replace(LINUX, root_device="/dev/xvda")


PatchSourceKind = Literal["wsus", "yum-mirror", "s3"]
"""Where hosts get patches on the closed network: the city's WSUS (hosts pointed at it by a State Manager
association), the city's repository mirror (the patch baseline's alternative source), or AWS's repositories in S3
(through the spoke's gateway endpoint: nothing for the city to run)."""


@dataclass(frozen=True)
class OsProfile:
    family: OsFamily
    """What the CloudWatch agent collects, the alarms' metrics, the root and data devices."""
    latest_ami_parameter: str | None
    """AWS's public SSM parameter with the newest AMI (None: AWS publishes none; ``ami = "latest"`` is rejected)."""
    patch_operating_system: str
    """Patch Manager's name for the operating system."""
    patch_filters: dict[str, list[str]]
    """What the patch baseline approves."""
    patch_source: PatchSourceKind
    approves_non_security: bool
    """Linux baselines also approve the bug-fix classification, not only security updates."""
    mirror_label: str = ""
    """Names the repositories of a ``yum-mirror`` source (``city-<label>-baseos``, ...)."""
    mirror_products: tuple[str, ...] = ()
    """Products a ``yum-mirror`` source applies to (Patch Manager's names)."""
    syslog_setup: tuple[str, ...] = ()
    """Commands that make the system log files the agent reads (images that log to the journal only)."""
    installs_ssm_agent: bool = False
    """The image lacks the SSM agent: user data installs it from AWS's regional bucket."""
    platform_details: str = "Linux/UNIX"
    """What EC2 reports as an image's ``PlatformDetails`` for this operating system (``preflight`` compares)."""
    price_os: str = "Linux"
    """The instance rate that applies: the Price List API's ``operatingSystem`` (Windows and RHEL carry their
    licence in the hourly rate)."""


PROFILES: dict[str, OsProfile] = {
    "windows-server-2022-ja": OsProfile(
        family=WINDOWS,
        latest_ami_parameter="/aws/service/ami-windows-latest/Windows_Server-2022-Japanese-Full-Base",
        patch_operating_system="WINDOWS",
        patch_filters={
            "PRODUCT": ["WindowsServer2022"],
            "CLASSIFICATION": ["CriticalUpdates", "SecurityUpdates"],
            "MSRC_SEVERITY": ["Critical", "Important"],
        },
        patch_source="wsus",
        approves_non_security=False,
        platform_details="Windows",
        price_os="Windows",
    ),
    "rhel-9": OsProfile(
        family=LINUX,
        latest_ami_parameter=None,
        patch_operating_system="REDHAT_ENTERPRISE_LINUX",
        patch_filters={"CLASSIFICATION": ["Security", "Bugfix"], "SEVERITY": ["Critical", "Important"]},
        patch_source="yum-mirror",
        approves_non_security=True,
        mirror_label="rhel9",
        mirror_products=tuple(f"RedhatEnterpriseLinux9.{minor}" for minor in range(7)),
        installs_ssm_agent=True,
        platform_details="Red Hat Enterprise Linux",
        price_os="RHEL",
    ),
    "amazon-linux-2023": OsProfile(
        family=AMAZON_LINUX,
        latest_ami_parameter="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
        patch_operating_system="AMAZON_LINUX_2023",
        patch_filters={"CLASSIFICATION": ["Security", "Bugfix"], "SEVERITY": ["Critical", "Important"]},
        patch_source="s3",
        approves_non_security=True,
        # Amazon Linux 2023 logs to the journal only; rsyslog (from its repositories, served from S3) writes the
        # /var/log/messages and /var/log/secure that the agent collects, as RHEL does out of the box.
        syslog_setup=("dnf install -y rsyslog", "systemctl enable --now rsyslog"),
    ),
}


def mirror_repositories(profile: OsProfile, url: str) -> str:
    """Repository definitions of the city's mirror, used by Patch Manager instead of the host's own."""
    sections = []
    for repo in ("BaseOS", "AppStream"):
        sections.append(
            "\n".join(
                (
                    f"[city-{profile.mirror_label}-{repo.lower()}]",
                    f"name=RHEL 9 {repo} (city mirror)",
                    f"baseurl={url.rstrip('/')}/{repo}",
                    "enabled=1",
                    "gpgcheck=1",
                    "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release",
                    "sslverify=1",
                )
            )
        )
    return "\n\n".join(sections) + "\n"


def wsus_script(url: str) -> list[str]:
    """PowerShell that points Windows Update at the city's WSUS and leaves installs to Patch Manager."""
    base = r"HKLM:\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate"
    return [
        "$ErrorActionPreference = 'Stop'",
        f"New-Item -Path '{base}\\AU' -Force | Out-Null",
        f"Set-ItemProperty -Path '{base}' -Name WUServer -Value '{url}'",
        f"Set-ItemProperty -Path '{base}' -Name WUStatusServer -Value '{url}'",
        f"Set-ItemProperty -Path '{base}\\AU' -Name UseWUServer -Value 1 -Type DWord",
        f"Set-ItemProperty -Path '{base}\\AU' -Name NoAutoUpdate -Value 1 -Type DWord",
        "Restart-Service -Name wuauserv",
    ]


def ssm_agent_install(region: str) -> str:
    """User data that installs the SSM agent, which Red Hat's images do not ship, from AWS's regional bucket through
    the spoke's S3 gateway endpoint (there is no internet path). Without it the host never registers with Systems
    Manager: no Session Manager, State Manager, Patch Manager or CloudWatch agent. x86_64 images."""
    url = f"https://s3.{region}.amazonaws.com/amazon-ssm-{region}/latest/linux_amd64/amazon-ssm-agent.rpm"
    return "\n".join(
        (
            "#!/bin/bash",
            "# Installs the SSM agent (not in Red Hat's images) from AWS's bucket through the S3 gateway endpoint.",
            "set -eu",
            "if ! systemctl is-active --quiet amazon-ssm-agent; then",
            f"  curl -fsS --retry 5 -o /tmp/amazon-ssm-agent.rpm {url}",
            "  rpm -U --replacepkgs /tmp/amazon-ssm-agent.rpm",
            "  systemctl enable --now amazon-ssm-agent",
            "fi",
            "",
        )
    )
