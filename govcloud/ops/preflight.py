"""``preflight``: what ``cdk deploy`` trusts about the world outside the templates, checked before a deployment.

Read-only. Each check yields one row per thing it looked at; the README lists them with what to do when one fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from govcloud import naming
from govcloud.ops.aws import ToolProblem
from govcloud.ops.checks import Check, Env, Result, call, days
from govcloud.os_profiles import PROFILES

# The synthesized templates' CheckBootstrapVersion rule requires at least this version of the CDK bootstrap stack.
MIN_BOOTSTRAP_VERSION = 6
BOOTSTRAP_STACK = "CDKToolkit"
CERTIFICATE_DAYS = 30
UNRESERVED_CONCURRENCY = 100  # Lambda keeps this much of the account's concurrency unreserved
SESSION_DOCUMENT = "SSM-SessionManagerRunShell"


def bootstrap(env: Env) -> Iterator[Result]:
    """Every account bootstrapped in Tokyo and Osaka, recent enough, trusting the deploying account."""
    deployer = env.cfg.operations.deploying_account
    for account, settings in env.cfg.accounts.items():
        for region in env.regions:
            cfn = env.client("cloudformation", account, region)
            found = call(
                lambda: cfn.describe_stacks(StackName=BOOTSTRAP_STACK),
                f"reading the bootstrap stack of {account} in {region}",
                missing=("ValidationError",),
            )
            expected = f"version >= {MIN_BOOTSTRAP_VERSION}, trusts {deployer}"
            if not found:
                yield env.result(
                    account, region, BOOTSTRAP_STACK, expected, "not bootstrapped: cdk bootstrap (README)", False
                )
                continue
            stack = found["Stacks"][0]
            outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
            parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
            version = int(outputs.get("BootstrapVersion", "0") or 0)
            trusted = [a for a in parameters.get("TrustedAccounts", "").split(",") if a]
            ok = version >= MIN_BOOTSTRAP_VERSION and (deployer in trusted or settings.id == deployer)
            text = f"version {version}, trusts {', '.join(trusted) or 'no other account'}"
            yield env.result(account, region, BOOTSTRAP_STACK, expected, text, ok)


def images(env: Env) -> Iterator[Result]:
    """Every AMI of config exists in its region, is available and runs the configured operating system."""
    for name, system in env.cfg.systems.items():
        for role_name, role in system.roles.items():
            wanted = PROFILES[role.os].platform_details
            for region in env.regions:
                ids: dict[str, str | None] = {}
                if isinstance(role.ami, dict):
                    ids["ami"] = {str(k): v for k, v in role.ami.items()}.get(region)
                if role.launched_from:
                    ids["launched_from"] = {str(k): v for k, v in role.launched_from.items()}.get(region)
                subject = f"{name}/{role_name}"
                if role.ami == "latest":
                    yield env.result(
                        system.account,
                        region,
                        f"{subject} ami",
                        "pinned or latest",
                        "latest: read by update-image",
                        True,
                    )
                for key, image_id in ids.items():
                    if image_id is None:
                        continue
                    ec2 = env.client("ec2", system.account, region)
                    found = call(
                        lambda: ec2.describe_images(ImageIds=[image_id])["Images"],
                        f"reading {image_id} in {region}",
                        missing=("InvalidAMIID.NotFound", "InvalidAMIID.Malformed", "InvalidAMIID.Unavailable"),
                    )
                    expected = f"{image_id} available, {wanted}"
                    if not found:
                        yield env.result(system.account, region, f"{subject} {key}", expected, "not found", False)
                        continue
                    image = found[0]
                    platform = image.get("PlatformDetails", "")
                    ok = image.get("State") == "available" and platform.startswith(wanted)
                    yield env.result(
                        system.account, region, f"{subject} {key}", expected, f"{image.get('State')}, {platform}", ok
                    )


def certificates(env: Env) -> Iterator[Result]:
    """Each load balancer's certificate (Tokyo's, and with a pilot light Osaka's) is issued and valid for 30 more
    days at least."""
    dr = env.cfg.disaster_recovery
    wanted = [(name, system.certificate_arn, env.regions[0]) for name, system in env.cfg.systems.items()]
    if dr.mode == "pilot-light":
        wanted += [(name, osaka.certificate_arn, env.cfg.regions.dr.name) for name, osaka in dr.systems.items()]
    for name, arn, region in wanted:
        if arn is None:
            continue
        system = env.cfg.systems[name]
        acm = env.client("acm", system.account, region)
        found = call(
            lambda: acm.describe_certificate(CertificateArn=arn)["Certificate"],
            f"reading the certificate of {name}",
            missing=("ResourceNotFoundException", "ValidationException"),
        )
        expected = f"ISSUED, valid {CERTIFICATE_DAYS}+ days"
        if not found:
            yield env.result(system.account, region, f"{name} certificate", expected, "not found", False)
            continue
        left = (found["NotAfter"] - env.now).total_seconds() if found.get("NotAfter") else 0.0
        ok = found.get("Status") == "ISSUED" and left >= CERTIFICATE_DAYS * 86400
        yield env.result(
            system.account, region, f"{name} certificate", expected, f"{found.get('Status')}, {days(left)} left", ok
        )


def direct_connect(env: Env) -> Iterator[Result]:
    """Each segment's Direct Connect gateway exists (and who owns it)."""
    account, region = env.cfg.network.account, env.regions[0]
    for segment, settings in env.cfg.network.segments.items():
        gateway_id = settings.direct_connect_gateway_id
        dx = env.client("directconnect", account, region)
        found = call(
            lambda: dx.describe_direct_connect_gateways(directConnectGatewayId=gateway_id)["directConnectGateways"],
            f"reading Direct Connect gateway {gateway_id}",
            missing=("DirectConnectClientException",),
        )
        gateway = (found or [None])[0]
        if gateway is None:
            yield env.result(account, region, f"{segment} gateway", f"{gateway_id} available", "not found", False)
            continue
        state = gateway.get("directConnectGatewayState")
        text = f"{state}, owner {gateway.get('ownerAccount')}"
        yield env.result(account, region, f"{segment} gateway", f"{gateway_id} available", text, state == "available")


def lambda_concurrency(env: Env) -> Iterator[Result]:
    """The linkage account's concurrency covers the functions' reservations plus the 100 Lambda keeps free."""
    account, region = env.cfg.linkage.account, env.regions[0]
    needed = env.cfg.linkage.reserved_concurrency * len(naming.LINKAGE_FUNCTIONS) + UNRESERVED_CONCURRENCY
    client = env.client("lambda", account, region)
    limit = call(client.get_account_settings, "reading the Lambda account settings")["AccountLimit"]
    found = int(limit.get("ConcurrentExecutions", 0))
    text = f"{found}" + ("" if found >= needed else ": ask AWS Support for a higher concurrency quota")
    yield env.result(account, region, "concurrent executions", f">= {needed}", text, found >= needed)


def resource_shares(env: Env) -> Iterator[Result]:
    """No share of the environment waits for acceptance (sharing within the organisation accepts them itself)."""
    region = env.regions[0]
    for account in env.cfg.accounts:
        if account == env.cfg.network.account:
            continue
        ram = env.client("ram", account, region)
        invitations = call(ram.get_resource_share_invitations, f"reading the RAM invitations of {account}")
        pending = [i for i in invitations.get("resourceShareInvitations", []) if i.get("status") == "PENDING"]
        text = (
            "none pending"
            if not pending
            else "accept: " + ", ".join(i.get("resourceShareName", i["resourceShareInvitationArn"]) for i in pending)
        )
        yield env.result(account, region, "RAM invitations", "none pending", text, not pending)


def session_document(env: Env) -> Iterator[Result]:
    """No Session Manager preferences document that the stacks did not create (they could not create theirs)."""
    region = env.regions[0]
    prefix = f"{''.join(p.capitalize() for p in env.cfg.name.split('-'))}-"
    for account in dict.fromkeys(system.account for system in env.cfg.systems.values()):
        ssm = env.client("ssm", account, region)
        found = call(
            lambda: ssm.describe_document(Name=SESSION_DOCUMENT),
            f"reading {SESSION_DOCUMENT} in {account}",
            missing=("InvalidDocument",),
        )
        if not found:
            yield env.result(account, region, SESSION_DOCUMENT, "absent or ours", "absent", True)
            continue
        tags = call(
            lambda: ssm.list_tags_for_resource(ResourceType="Document", ResourceId=SESSION_DOCUMENT),
            f"reading the tags of {SESSION_DOCUMENT}",
        ).get("TagList", [])
        stack = next((t["Value"] for t in tags if t["Key"] == "aws:cloudformation:stack-name"), "")
        ok = stack.startswith(prefix)
        text = f"created by {stack}" if stack else "created outside the stacks: delete it before the first deployment"
        yield env.result(account, region, SESSION_DOCUMENT, "absent or ours", text, ok)


def s3_prefix_list(env: Env) -> Iterator[Result]:
    """The spokes' network ACLs admit ``network.s3_cidrs`` (and, with a pilot light, Osaka's spokes
    ``disaster_recovery.s3_cidrs``): they must equal S3's prefix list in that region."""
    account = env.cfg.network.account
    wanted = [(env.regions[0], env.cfg.network.s3_cidrs)]
    if env.cfg.disaster_recovery.mode == "pilot-light":
        wanted.append((env.regions[1], env.cfg.disaster_recovery.s3_cidrs))
    for region, cidrs in wanted:
        ec2 = env.client("ec2", account, region)
        lists = call(
            lambda: ec2.describe_managed_prefix_lists(
                Filters=[{"Name": "prefix-list-name", "Values": [f"com.amazonaws.{region}.s3"]}]
            )["PrefixLists"],
            f"reading S3's prefix list in {region}",
        )
        expected = ", ".join(sorted(cidrs))
        if not lists:
            yield env.result(account, region, "S3 prefix list", expected, "no prefix list for S3", False)
            continue
        entries = call(
            lambda: ec2.get_managed_prefix_list_entries(PrefixListId=lists[0]["PrefixListId"])["Entries"],
            f"reading S3's prefix list entries in {region}",
        )
        found = ", ".join(sorted(e["Cidr"] for e in entries))
        subject = f"S3 prefix list {lists[0]['PrefixListId']}"
        yield env.result(account, region, subject, expected, found, found == expected)


def external_principals(env: Env) -> Iterator[Result]:
    """The caller roles of systems run outside this landing zone (a vendor's) exist in their accounts."""
    region = env.regions[0]
    for name, system in env.cfg.linkage.systems.items():
        if system.spoke is not None:
            continue  # created by the business system's stack
        for role in system.caller_roles:
            subject = f"{name} role {role}"
            try:
                iam = env.client("iam", system.account, region)
                found = call(lambda: iam.get_role(RoleName=role), f"reading {role}", missing=("NoSuchEntity",))
            except ToolProblem as problem:
                yield env.result(
                    system.account, region, subject, "exists", f"cannot read the account: {problem}", False
                )
                continue
            yield env.result(system.account, region, subject, "exists", "exists" if found else "missing", bool(found))


def account_services(env: Env) -> Iterator[Result]:
    """GuardDuty, Security Hub, Config and the organisation's trail are there where config says the Government
    Cloud provides them (its switch off)."""
    switches = env.cfg.account_services
    region = env.regions[0]
    for account in env.cfg.accounts:
        if not switches.guardduty:
            detectors = call(env.client("guardduty", account, region).list_detectors, "listing GuardDuty detectors")
            present = bool(detectors.get("DetectorIds"))
            yield env.result(account, region, "GuardDuty", "a detector", "present" if present else "absent", present)
        if not switches.security_hub:
            hub = env.client("securityhub", account, region)
            found = call(
                hub.describe_hub,
                "reading Security Hub",
                missing=("InvalidAccessException", "ResourceNotFoundException"),
            )
            yield env.result(account, region, "Security Hub", "enabled", "enabled" if found else "absent", bool(found))
        if not switches.config_recorder:
            status = call(
                env.client("config", account, region).describe_configuration_recorder_status,
                "reading the Config recorder",
            ).get("ConfigurationRecordersStatus", [])
            recording = any(s.get("recording") for s in status)
            yield env.result(
                account, region, "Config recorder", "recording", "recording" if recording else "absent", recording
            )
        if not switches.cloudtrail:
            trail = env.client("cloudtrail", account, region)
            trails = call(lambda: trail.describe_trails(includeShadowTrails=True), "listing trails").get(
                "trailList", []
            )
            organisation = [t for t in trails if t.get("IsOrganizationTrail")]
            statuses: list[dict[str, Any]] = []
            for organisation_trail in organisation:
                arn = organisation_trail["TrailARN"]
                statuses.append(call(lambda: trail.get_trail_status(Name=arn), "reading a trail's status"))
            logging = any(status.get("IsLogging") for status in statuses)
            text = "logging" if logging else ("not logging" if organisation else "absent")
            yield env.result(account, region, "organisation trail", "logging", text, logging)


CHECKS: list[tuple[str, Check]] = [
    ("bootstrap", bootstrap),
    ("images", images),
    ("certificates", certificates),
    ("direct-connect", direct_connect),
    ("lambda-concurrency", lambda_concurrency),
    ("resource-shares", resource_shares),
    ("session-document", session_document),
    ("s3-prefix-list", s3_prefix_list),
    ("external-principals", external_principals),
    ("account-services", account_services),
]
