"""A grammar check of the Mermaid flowchart subset the diagram emits. Mermaid's own parser (``mermaid_parse.mjs``)
checks the syntax; this also catches what Mermaid accepts silently (an edge to an undefined node draws an empty one,
a node defined twice takes the second label) and runs without Node.

Accepted lines: ``flowchart LR|TB``; ``subgraph ID["label"]`` ... ``end``; a node ``ID["label"]``, ``ID[("label")]``,
``ID(["label"])`` or ``ID{{"label"}}``; an edge ``A --> B``, ``A -.-> B`` or ``A --- B`` with an optional
``|label|``; ``classDef NAME style``; ``class ID,ID NAME``. Every edge and class names nodes that are defined, every
node is defined once, subgraphs are balanced, and labels hold no raw double quote.
"""

from __future__ import annotations

import re

IDENT = r"[A-Za-z][A-Za-z0-9_]*"
LABEL = r'"[^"]*"'
NODE = re.compile(rf"^({IDENT})(\[{LABEL}\]|\[\({LABEL}\)\]|\(\[{LABEL}\]\)|\{{\{{{LABEL}\}}\}})$")
SUBGRAPH = re.compile(rf"^subgraph ({IDENT})\[{LABEL}\]$")
EDGE = re.compile(rf"^({IDENT}) (-->|-\.->|---)(\|[^|\"]+\|)? ({IDENT})$")
CLASSDEF = re.compile(rf"^classDef ({IDENT}) [a-z-]+:[#A-Za-z0-9]+(,[a-z-]+:[#A-Za-z0-9]+)*$")
CLASS = re.compile(rf"^class ({IDENT}(?:,{IDENT})*) ({IDENT})$")
RESERVED = {"end", "subgraph", "graph", "flowchart", "class", "classDef", "style", "click"}


def check(text: str) -> list[str]:
    """Problems in a Mermaid flowchart, empty when it is well formed."""
    lines = [line.strip() for line in text.strip().splitlines()]
    problems = []
    if not lines or lines[0] not in ("flowchart LR", "flowchart TB"):
        problems.append(f"first line must be 'flowchart LR' or 'flowchart TB', not {lines[:1]}")
    nodes: set[str] = set()
    groups: set[str] = set()
    classes: set[str] = set()
    depth = 0
    references: list[tuple[int, str]] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        if match := SUBGRAPH.match(line):
            if match.group(1) in groups | nodes:
                problems.append(f"line {number}: {match.group(1)} defined twice")
            groups.add(match.group(1))
            depth += 1
        elif line == "end":
            depth -= 1
            if depth < 0:
                problems.append(f"line {number}: 'end' without a subgraph")
        elif match := NODE.match(line):
            name = match.group(1)
            if name in nodes | groups or name in RESERVED:
                problems.append(f"line {number}: node {name} defined twice or reserved")
            nodes.add(name)
        elif match := EDGE.match(line):
            references += [(number, match.group(1)), (number, match.group(4))]
        elif match := CLASSDEF.match(line):
            classes.add(match.group(1))
        elif match := CLASS.match(line):
            references += [(number, n) for n in match.group(1).split(",")]
            if match.group(2) not in classes:
                problems.append(f"line {number}: class {match.group(2)} used before classDef")
        else:
            problems.append(f"line {number}: not in the grammar: {line}")
    if depth:
        problems.append(f"{depth} subgraph(s) not closed")
    problems += [f"line {n}: {name} is not a defined node" for n, name in references if name not in nodes]
    return problems
