"""Deploy simulation: what each AWS API would find when ``cdk deploy`` creates the stacks of an assembly.

Synth and the packs check each template alone; CloudFormation, IAM, KMS and S3 check names against the accounts
as they are at that moment. This walks the stacks in the order ``cdk deploy`` uses and fails where:

- a policy principal, or a resource property, names a role, key, bucket, queue, topic, log group, event bus,
  vault or parameter that neither the same stack nor a stack it depends on creates (IAM, KMS and S3 reject a
  policy whose principal does not exist yet; a trail cannot write to a bucket that is not there);
- a policy's ``Resource`` or ``Condition``, or a function's environment, names one that no stack creates at all
  and that is not a declared prerequisite (a dangling name: a typo, or a rename on one side only);
- a stack reads another's output (``Fn::GetStackOutput``) without depending on it, or reads an output that stack
  does not have, or reads across accounts without a role the producer creates;
- a template holds an ID that exists only after a deployment (``vpc-``, ``subnet-``, ``tgw-attach-``, a hosted
  zone, ...), pasted from somewhere instead of flowing from the stack that creates it;
- within a stack, a resource names another by name (not by ``Ref``) where it must exist, without depending on it;
- a resource exceeds a limit the service checks only when it is created (a Lambda function's environment
  variables over 4 KB in all).

Names are compared after resolving the pseudo parameters (account, region, partition) of each stack; parts that
only exist at deploy time (``Ref``, ``GetAtt``) are left open and never match. No CDK import.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from govcloud.prerequisites import Prerequisites
from govcloud.review.assembly import Assembly, StackArtifact

OPEN = "\x00"  # stands for a value only known at deploy time; never part of a name
PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": ""}

# Properties whose strings are used at run time, not checked when the resource is created.
RUN_TIME_KEYS = frozenset(
    ("Tags", "Description", "Environment", "Content", "UserData", "EventPattern", "Value", "Parameters", "Input")
)
# Where a resource's own name is written, per type: (property path, kind, ARN format).
NAMED_TYPES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "AWS::IAM::Role": (("RoleName",), "role", "arn:aws:iam::{a}:role{path}{n}"),
    "AWS::IAM::ManagedPolicy": (("ManagedPolicyName",), "policy", "arn:aws:iam::{a}:policy{path}{n}"),
    "AWS::KMS::Alias": (("AliasName",), "key", "arn:aws:kms:{r}:{a}:{n}"),
    "AWS::S3::Bucket": (("BucketName",), "bucket", "arn:aws:s3:::{n}"),
    "AWS::SQS::Queue": (("QueueName",), "queue", "arn:aws:sqs:{r}:{a}:{n}"),
    "AWS::SNS::Topic": (("TopicName",), "topic", "arn:aws:sns:{r}:{a}:{n}"),
    "AWS::Logs::LogGroup": (("LogGroupName",), "log group", "arn:aws:logs:{r}:{a}:log-group:{n}"),
    "AWS::Events::EventBus": (("Name",), "event bus", "arn:aws:events:{r}:{a}:event-bus/{n}"),
    "AWS::Backup::BackupVault": (("BackupVaultName",), "vault", "arn:aws:backup:{r}:{a}:backup-vault:{n}"),
    "AWS::Backup::LogicallyAirGappedBackupVault": (
        ("BackupVaultName",),
        "vault",
        "arn:aws:backup:{r}:{a}:backup-vault:{n}",
    ),
    "AWS::SSM::Parameter": (("Name",), "parameter", "arn:aws:ssm:{r}:{a}:parameter/{n}"),
}
# How a referenced ARN names one of the kinds above: service, pattern of the resource part, kind.
ARN = re.compile(r"arn:aws:([a-z0-9-]+):([a-z0-9-]*):([0-9]{12}|aws|\*|):([^\s\"'\x00,;)]+)")
REFERENCE_KINDS = (
    ("iam", re.compile(r"^role(/.+)$"), "role"),
    ("kms", re.compile(r"^(alias/.+)$"), "key"),
    ("kms", re.compile(r"^key/(.+)$"), "key id"),
    ("s3", re.compile(r"^([^/]+)"), "bucket"),
    ("sqs", re.compile(r"^([^:/]+)$"), "queue"),
    ("sns", re.compile(r"^([^:/]+)$"), "topic"),
    ("logs", re.compile(r"^log-group:([^:]+)"), "log group"),
    ("events", re.compile(r"^event-bus/(.+)$"), "event bus"),
    ("backup", re.compile(r"^backup-vault:(.+)$"), "vault"),
    ("ssm", re.compile(r"^parameter/(.+)$"), "parameter"),
)
ROOT_PRINCIPAL = re.compile(r"arn:aws:iam::([0-9]{12}):root")
S3_URI = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])")
# IDs that exist only once something is deployed. In a template they can only have been pasted in by hand.
DEPLOYED_ID = re.compile(
    r"\b((?:vpc|subnet|sg|rtb|igw|nat|eni|vol|i|tgw|tgw-attach|tgw-rtb|vpce|rslvr-rr|rslvr-frg|rslvr-in|rslvr-out"
    r"|rp|key|acl)-[0-9a-f]{8,17})\b"
)
# Within a stack, resources of the second type must wait for the first (CloudFormation creates the rest in parallel).
ORDER_RULES = (
    (
        "AWS::LakeFormation::DataLakeSettings",
        "AWS::Glue::Database",
        "created before the Lake Formation settings, a database keeps the IAMAllowedPrincipals default grant",
    ),
)
# Compute placed in a spoke's subnets: where each type names its subnets.
PLACED_IN_SUBNETS = {"AWS::EC2::Instance": ("SubnetId",), "AWS::Lambda::Function": ("VpcConfig", "SubnetIds")}
# Outputs of these types are what other stacks complete a network with (route-table associations, zone
# associations): compute in that network must wait for them.
NETWORK_TYPES = frozenset(("AWS::EC2::VPC", "AWS::EC2::TransitGatewayVpcAttachment"))
HOSTED_ZONE_KEYS = frozenset(("HostedZoneId", "HostedZoneIds"))
HOSTED_ZONE_ID = re.compile(r"^Z[A-Z0-9]{6,32}$")


@dataclass(frozen=True)
class Problem:
    stack: str
    logical_id: str
    message: str

    def render(self) -> str:
        return f"{self.stack}/{self.logical_id}: {self.message}"


@dataclass(frozen=True)
class Created:
    stack: str
    logical_id: str
    kind: str
    arn: str


@dataclass(frozen=True)
class Leaf:
    """A string of a template with its place: the resource, the property path, and what the place means."""

    logical_id: str
    path: tuple[str, ...]
    text: str
    usage: str
    """``principal`` or ``property`` (must exist when the resource is created) or ``name`` (used later)."""


@dataclass
class Simulation:
    assembly: Assembly
    prerequisites: Prerequisites
    created: list[Created] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    checked: int = 0
    """References checked (names and stack outputs), so that a test can tell the walk saw something."""

    @property
    def accounts(self) -> set[str]:
        return {s.account for s in self.assembly.stacks}


def run(assembly: Assembly, prerequisites: Prerequisites) -> Simulation:
    """Check every stack of ``assembly`` in deploy order; the result lists each problem found."""
    sim = Simulation(assembly=assembly, prerequisites=prerequisites)
    order = assembly.deploy_order()
    for stack in order:
        sim.created.extend(_created_by(stack))
    for stack in order:
        _check_stack(sim, stack)
    return sim


# ----- what each stack creates -----


def _created_by(stack: StackArtifact) -> Iterator[Created]:
    for logical_id, resource in stack.resources.items():
        rtype = resource.get("Type", "")
        props = resource.get("Properties", {})
        if rtype == "AWS::KMS::Key":
            yield Created(stack.name, logical_id, "key id", f"arn:aws:kms:{stack.region}:{stack.account}:key/{OPEN}")
        named = NAMED_TYPES.get(rtype)
        if named is None:
            continue
        keys, kind, form = named
        name = props
        for key in keys:
            name = name.get(key) if isinstance(name, dict) else None
        if name is None:
            continue
        text = _flatten(name, stack)
        if OPEN in text:
            continue
        path = _flatten(props.get("Path", "/"), stack) if kind in ("role", "policy") else ""
        yield Created(stack.name, logical_id, kind, form.format(a=stack.account, r=stack.region, n=text, path=path))


# ----- what each stack names -----


def _flatten(node: Any, stack: StackArtifact) -> str:
    """A template value as text: pseudo parameters resolved, every deploy-time value replaced by OPEN."""
    if isinstance(node, str):
        return node
    if isinstance(node, (int, float, bool)):
        return str(node)
    if isinstance(node, list):
        return ",".join(_flatten(v, stack) for v in node)
    if isinstance(node, dict) and len(node) == 1:
        ((key, value),) = node.items()
        if key == "Ref":
            return {"AWS::AccountId": stack.account, "AWS::Region": stack.region, "AWS::StackName": stack.name}.get(
                value, PSEUDO.get(value, OPEN)
            )
        if key == "Fn::Join":
            separator, parts = value
            return str(separator).join(_flatten(p, stack) for p in parts)
        if key == "Fn::Sub":
            text, variables = (value, {}) if isinstance(value, str) else value
            pseudo = {"AWS::AccountId": stack.account, "AWS::Region": stack.region, **PSEUDO}
            return re.sub(
                r"\$\{([^}!]+)\}",
                lambda m: _flatten(variables[m[1]], stack) if m[1] in variables else pseudo.get(m[1], OPEN),
                text,
            )
    return OPEN


def _is_intrinsic(node: Any) -> bool:
    return (
        isinstance(node, dict) and len(node) == 1 and (next(iter(node)) == "Ref" or next(iter(node)).startswith("Fn::"))
    )


def _leaves(stack: StackArtifact) -> Iterator[Leaf]:
    for logical_id, resource in stack.resources.items():
        custom = resource.get("Type", "").startswith("Custom::")
        yield from _walk(resource.get("Properties", {}), logical_id, (), "name" if custom else "property", stack)


def _walk(node: Any, logical_id: str, path: tuple[str, ...], usage: str, stack: StackArtifact) -> Iterator[Leaf]:
    if isinstance(node, dict) and not _is_intrinsic(node):
        for key, value in node.items():
            inner = usage
            if _in_statement(path):
                if key in ("Principal", "NotPrincipal"):
                    inner = "principal"
                elif key in ("Resource", "NotResource", "Condition", "Action", "NotAction", "Sid"):
                    inner = "name"
            elif key in RUN_TIME_KEYS:
                inner = "name"
            yield from _walk(value, logical_id, (*path, key), inner, stack)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value, logical_id, (*path, "[]"), usage, stack)
    else:
        yield Leaf(logical_id, path, _flatten(node, stack), usage)


def _in_statement(path: tuple[str, ...]) -> bool:
    """Whether ``path`` points at one statement of a policy document (``...Statement[]``)."""
    return len(path) >= 2 and path[-1] == "[]" and path[-2] == "Statement"


def _references(leaf: Leaf, stack: StackArtifact) -> Iterator[tuple[str, str, str]]:
    """(kind, ARN or name pattern, account) of each named thing in one string."""
    for match in ARN.finditer(leaf.text):
        service, _region, account, resource = match.groups()
        for kind_service, pattern, kind in REFERENCE_KINDS:
            if service != kind_service:
                continue
            found = pattern.match(resource)
            if not found:
                continue
            if kind == "bucket":
                yield kind, f"arn:aws:s3:::{found[1]}", ""
            elif kind == "role":
                yield kind, f"arn:aws:iam::{account}:role{found[1]}", account
            elif kind == "log group":
                yield kind, match[0].split(":log-stream:")[0].removesuffix(":*") if found[1] != "*" else "", account
            else:
                yield kind, match[0], account
            break
    for found in S3_URI.finditer(leaf.text):
        yield "bucket", f"arn:aws:s3:::{found[1]}", ""
    key = leaf.path[-1] if leaf.path else ""
    if key.endswith("LogGroupName") and leaf.text and OPEN not in leaf.text and not leaf.text.startswith("arn:"):
        yield "log group", f"arn:aws:logs:{stack.region}:{stack.account}:log-group:{leaf.text}", stack.account
    bucket_key = key in ("S3BucketName", "BucketName", "Bucket")
    if bucket_key and leaf.text and OPEN not in leaf.text and not leaf.text.startswith("arn:"):
        yield "bucket", f"arn:aws:s3:::{leaf.text}", ""


# ----- the checks -----


def _check_stack(sim: Simulation, stack: StackArtifact) -> None:
    before = sim.assembly.dependencies(stack)
    own_names = {c.arn for c in sim.created if c.stack == stack.name}
    local = _local_dependencies(stack)
    by_name = sim.assembly.by_name()
    for output_read in _stack_output_reads(stack.template):
        _check_output_read(sim, stack, before, by_name, output_read)
    _check_network_complete(sim, stack, before, by_name)
    _check_order_rules(sim, stack, local)
    _check_limits(sim, stack)
    for leaf in _leaves(stack):
        _check_ids(sim, stack, leaf)
        if leaf.usage == "principal":
            for account in ROOT_PRINCIPAL.findall(leaf.text):
                sim.checked += 1
                if account not in sim.accounts and account not in sim.prerequisites.accounts:
                    sim.problems.append(
                        Problem(
                            stack.name,
                            leaf.logical_id,
                            f"admits account {account}, which is neither an account of the environment nor a "
                            "declared external one",
                        )
                    )
        for kind, pattern, account in _references(leaf, stack):
            if leaf.usage == "property" and pattern in own_names and leaf.logical_id in local:
                creator = next(c for c in sim.created if c.stack == stack.name and c.arn == pattern)
                if creator.logical_id != leaf.logical_id and creator.logical_id not in local[leaf.logical_id]:
                    sim.problems.append(
                        Problem(
                            stack.name,
                            leaf.logical_id,
                            f"names the {kind} {pattern} of {creator.logical_id} in {'.'.join(leaf.path)} without "
                            "depending on it (use a Ref, or DependsOn): CloudFormation may create it first",
                        )
                    )
            _check_reference(sim, stack, before, leaf, kind, pattern, account)


LAMBDA_ENVIRONMENT_BYTES = 4096
"""Lambda's limit on a function's environment variables, keys and values together."""


def _check_limits(sim: Simulation, stack: StackArtifact) -> None:
    for logical_id, resource in stack.resources.items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        variables = ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
        size = sum(len(k.encode()) + len(_flatten(v, stack).encode()) for k, v in variables.items())
        sim.checked += 1
        if size > LAMBDA_ENVIRONMENT_BYTES:
            sim.problems.append(
                Problem(
                    stack.name,
                    logical_id,
                    f"its environment variables take {size} bytes; Lambda refuses more than "
                    f"{LAMBDA_ENVIRONMENT_BYTES} (put configuration into the function's code or a parameter)",
                )
            )


def _check_reference(
    sim: Simulation, stack: StackArtifact, before: set[str], leaf: Leaf, kind: str, pattern: str, account: str
) -> None:
    if not pattern:
        return  # "any log group of the account": a condition on the key's use, not a name
    sim.checked += 1
    pre = sim.prerequisites
    if account in ("aws", "*") or (account == "" and kind not in ("bucket",)):
        return  # AWS-owned (managed policies, public parameters) or any account
    creators = sorted(
        {c.stack for c in sim.created if _matches(c, kind, pattern)},
        key=lambda name: (name not in before and name != stack.name, name),
    )
    if kind == "bucket":
        bucket = pattern.removeprefix("arn:aws:s3:::")
        external = any(fnmatch.fnmatchcase(bucket, b) for b in pre.bucket_names)
    else:
        patterns = pre.role_arns if kind == "role" else pre.service_arns
        external = any(fnmatch.fnmatchcase(pattern, r) for r in patterns)
        if account and account not in sim.accounts and account in pre.accounts and kind != "role":
            external = True
    where = ".".join(leaf.path)
    if not creators:
        if external:
            return
        foreign = account and account not in sim.accounts
        sim.problems.append(
            Problem(
                stack.name,
                leaf.logical_id,
                f"names the {kind} {pattern} ({where}), which no stack creates"
                + (
                    f" and account {account} is not in the environment: declare it as an external prerequisite"
                    if foreign
                    else " and which is not a declared prerequisite"
                ),
            )
        )
        return
    if leaf.usage == "name" or external:
        return
    if stack.name in creators or any(c in before for c in creators):
        return
    sim.problems.append(
        Problem(
            stack.name,
            leaf.logical_id,
            f"names the {kind} {pattern} as {'a principal' if leaf.usage == 'principal' else where} before it exists: "
            f"{', '.join(creators)} creates it and {stack.name} does not depend on "
            f"{'it' if len(creators) == 1 else 'them'}",
        )
    )


def _matches(created: Created, kind: str, pattern: str) -> bool:
    if created.kind != kind:
        return False
    if kind == "key id":  # key IDs are generated: a key of that account and region is all a pattern can name
        return created.arn.split(":key/")[0] == pattern.split(":key/", maxsplit=1)[0]
    return fnmatch.fnmatchcase(created.arn, pattern) or fnmatch.fnmatchcase(pattern, created.arn)


def _check_ids(sim: Simulation, stack: StackArtifact, leaf: Leaf) -> None:
    found = [m[1] for m in DEPLOYED_ID.finditer(leaf.text)]
    if leaf.path and leaf.path[-1] in HOSTED_ZONE_KEYS | {"[]"} and any(p in HOSTED_ZONE_KEYS for p in leaf.path):
        found += [leaf.text] if HOSTED_ZONE_ID.match(leaf.text) else []
    for deployed_id in found:
        if deployed_id in sim.prerequisites.ids:
            continue
        sim.problems.append(
            Problem(
                stack.name,
                leaf.logical_id,
                f"holds the ID {deployed_id} ({'.'.join(leaf.path)}), which exists only after a deployment: it must "
                "come from the stack that creates it, not from config",
            )
        )


def _stack_output_reads(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "Fn::GetStackOutput" in node:
            yield node["Fn::GetStackOutput"]
        for value in node.values():
            yield from _stack_output_reads(value)
    elif isinstance(node, list):
        for value in node:
            yield from _stack_output_reads(value)


def _check_output_read(
    sim: Simulation, stack: StackArtifact, before: set[str], by_name: dict[str, StackArtifact], read: dict[str, Any]
) -> None:
    sim.checked += 1
    producer_name = read.get("StackName")
    output = read.get("OutputName")
    producer = by_name.get(str(producer_name))
    what = f"reads output {output} of {producer_name}"
    if producer is None:
        sim.problems.append(Problem(stack.name, "(outputs)", f"{what}, a stack that is not in the assembly"))
        return
    if producer.name not in before:
        sim.problems.append(Problem(stack.name, "(outputs)", f"{what} without depending on {producer.name}"))
    if output not in producer.template.get("Outputs", {}):
        sim.problems.append(Problem(stack.name, "(outputs)", f"{what}, which has no such output"))
    if read.get("Region", producer.region) != producer.region:
        sim.problems.append(Problem(stack.name, "(outputs)", f"{what} in {read.get('Region')}, not {producer.region}"))
    if producer.account == stack.account:
        return
    role = _flatten(read.get("RoleArn", ""), stack)
    roles = {c.arn: c for c in sim.created if c.kind == "role" and c.stack == producer.name}
    if role not in roles:
        sim.problems.append(
            Problem(
                stack.name,
                "(outputs)",
                f"{what} in account {producer.account} without a reader role that {producer.name} creates "
                f"(RoleArn {role or 'missing'})",
            )
        )
        return
    trust = producer.resources[roles[role].logical_id].get("Properties", {}).get("AssumeRolePolicyDocument", {})
    if stack.execution_role_arn and stack.execution_role_arn not in _flatten_all(trust, producer):
        sim.problems.append(
            Problem(stack.name, "(outputs)", f"{what}: its reader role does not trust {stack.execution_role_arn}")
        )


def _check_network_complete(
    sim: Simulation, stack: StackArtifact, before: set[str], by_name: dict[str, StackArtifact]
) -> None:
    """Hosts and functions placed in another stack's subnets start using the network at once: every stack that
    completes that network (associates its VPC or its Transit Gateway attachment) must deploy before them."""
    networks = set()
    for resource in stack.resources.values():
        keys = PLACED_IN_SUBNETS.get(resource.get("Type", ""))
        if keys is None:
            continue
        value: Any = resource.get("Properties", {})
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        networks |= {str(read.get("StackName")) for read in _stack_output_reads(value)}
    for network in sorted(networks):
        producer = by_name.get(network)
        if producer is None:
            continue
        outputs = {
            name
            for name, output in producer.template.get("Outputs", {}).items()
            if producer.resources.get(_ref_target(output.get("Value")) or "", {}).get("Type") in NETWORK_TYPES
        }
        for other in sim.assembly.stacks:
            if other.name in (stack.name, network):
                continue
            reads = {
                str(r.get("OutputName")) for r in _stack_output_reads(other.template) if r.get("StackName") == network
            }
            sim.checked += 1
            if reads & outputs and other.name not in before:
                sim.problems.append(
                    Problem(
                        stack.name,
                        "(dependencies)",
                        f"places hosts or functions in the subnets of {network}, whose network {other.name} completes "
                        f"(it associates {', '.join(sorted(reads & outputs))}), without depending on {other.name}",
                    )
                )


def _ref_target(value: Any) -> str | None:
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return str(value["Ref"])
    return None


def _check_order_rules(sim: Simulation, stack: StackArtifact, local: dict[str, set[str]]) -> None:
    for first, second, why in ORDER_RULES:
        firsts = [lid for lid, r in stack.resources.items() if r.get("Type") == first]
        for logical_id, resource in stack.resources.items():
            if resource.get("Type") != second:
                continue
            sim.checked += 1
            missing = [f for f in firsts if f not in local[logical_id]]
            if missing:
                sim.problems.append(Problem(stack.name, logical_id, f"does not depend on {', '.join(missing)}: {why}"))


def _flatten_all(node: Any, stack: StackArtifact) -> str:
    if _is_intrinsic(node) or not isinstance(node, (dict, list)):
        return _flatten(node, stack)
    values = node.values() if isinstance(node, dict) else node
    return " ".join(_flatten_all(v, stack) for v in values)


def _local_dependencies(stack: StackArtifact) -> dict[str, set[str]]:
    """Each resource's dependencies inside its template (Ref, GetAtt, Sub and DependsOn), transitively."""
    resources = stack.resources
    direct: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends = resource.get("DependsOn", [])
        names = set([depends] if isinstance(depends, str) else depends)
        names |= {n for n in _refs(resource.get("Properties", {})) if n in resources}
        direct[logical_id] = names
    closure: dict[str, set[str]] = {}
    for logical_id in resources:
        seen: set[str] = set()
        todo = list(direct[logical_id])
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(direct.get(name, ()))
        closure[logical_id] = seen
    return closure


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                yield value[0] if isinstance(value, list) else str(value).split(".")[0]
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                yield from (m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
                if isinstance(value, list):
                    yield from _refs(value[1])
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def render(sim: Simulation) -> str:
    order = [s.display_name or s.name for s in sim.assembly.deploy_order()]
    lines = [
        f"Deploy simulation: {len(order)} stacks, {sim.checked} references checked",
        "order: " + " -> ".join(order),
    ]
    if not sim.problems:
        lines.append("no problems: every name exists by the time its stack deploys")
    else:
        lines.append(f"{len(sim.problems)} problem(s):")
        lines += [f"  {p.render()}" for p in sim.problems]
    return "\n".join(lines) + "\n"
