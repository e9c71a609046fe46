"""What runs on every business-system host besides the application: the CloudWatch agent's configuration per
operating system family, and the metrics and log names the alarms and the instance role depend on."""

from __future__ import annotations

import json
from dataclasses import dataclass

from govcloud.config import OperatingSystem

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
)
LINUX = OsFamily(
    name="linux",
    root_device="/dev/sda1",
    memory=AgentMetric("mem_used_percent", "Maximum", "GreaterThanThreshold", 90, "memory in use"),
    disk=AgentMetric("disk_used_percent", "Maximum", "GreaterThanThreshold", 85, "disk in use (%)"),
    log_group_suffix="syslog",
)
AMAZON_LINUX = OsFamily(
    name="linux",
    root_device="/dev/xvda",
    memory=LINUX.memory,
    disk=LINUX.disk,
    log_group_suffix=LINUX.log_group_suffix,
)

FAMILY: dict[OperatingSystem, OsFamily] = {
    "windows-server-2022-ja": WINDOWS,
    "rhel-9": LINUX,
    "amazon-linux-2023": AMAZON_LINUX,
}

# Patch Manager's name for each operating system, and what a baseline approves.
PATCH_OPERATING_SYSTEM: dict[OperatingSystem, str] = {
    "windows-server-2022-ja": "WINDOWS",
    "rhel-9": "REDHAT_ENTERPRISE_LINUX",
    "amazon-linux-2023": "AMAZON_LINUX_2023",
}
PATCH_FILTERS: dict[OperatingSystem, dict[str, list[str]]] = {
    "windows-server-2022-ja": {
        "PRODUCT": ["WindowsServer2022"],
        "CLASSIFICATION": ["CriticalUpdates", "SecurityUpdates"],
        "MSRC_SEVERITY": ["Critical", "Important"],
    },
    "rhel-9": {"CLASSIFICATION": ["Security", "Bugfix"], "SEVERITY": ["Critical", "Important"]},
    "amazon-linux-2023": {"CLASSIFICATION": ["Security", "Bugfix"], "SEVERITY": ["Critical", "Important"]},
}
# Products a RHEL alternative patch source applies to (Patch Manager's names).
RHEL_9_PRODUCTS = [f"RedhatEnterpriseLinux9.{minor}" for minor in range(7)]


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


def rhel_repositories(url: str) -> str:
    """yum repository definitions of the city's RHEL mirror, used by Patch Manager instead of the host's own."""
    sections = []
    for repo in ("BaseOS", "AppStream"):
        sections.append(
            "\n".join(
                (
                    f"[city-rhel9-{repo.lower()}]",
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
