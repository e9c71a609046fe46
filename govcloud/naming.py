"""Names the landing zone gives to what it deploys, in one place, for the stacks and for the tools that find
those things again in a deployed account (``govcloud.ops``). No CDK import."""

from __future__ import annotations

# Tags of business-system hosts.
SYSTEM_TAG = "System"
ROLE_TAG = "Role"
OS_TAG = "OperatingSystem"
WAVE_TAG = "PatchWave"
WAVES = ("a", "b")
"""Host 1, 3, ... of a role are in wave a, host 2, 4, ... in wave b: the members of a pair never reboot together."""
IMAGE_TAG = "Image"
"""The image a host should run (an AMI ID, or ``latest``); ``govcloud.ops update-image`` brings it there."""


def wave_of(index: int) -> str:
    return WAVES[index % len(WAVES)]


def host_name(environment: str, system: str, role: str, index: int) -> str:
    """``kobe-stg``, ``resident-registry``, ``web``, 0 -> ``kobe-stg-resident-registry-web-1`` (the Name tag)."""
    return f"{environment}-{system}-{role}-{index + 1}"
