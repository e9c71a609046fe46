"""Datasets and their schema: every column declared, with its type and what of it reaches the data lake.

A batch is checked whole against its dataset, and each valid record becomes two: what subscribers receive (every
column, text made safe for spreadsheets) and what the data lake receives (kept columns as sent, pseudonymized
columns as tokens, dropped columns absent). A problem names the row, the column and what was expected, never the
value: rejection reasons are stored, answered to callers and logged.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from linkage_platform.pseudonym import Pseudonymizer
from linkage_platform.values import CHECKS, FORMULA_START, canonical, is_formula, is_key, neutralize

EXPECTED = {
    "string": "non-empty text",
    "integer": "an integer in ASCII digits",
    "decimal": "a finite decimal number in ASCII digits",
    "date": "a date written YYYY-MM-DD",
}
_ASSUMED_ROLE = re.compile(r"^arn:aws:sts::(\d{12}):assumed-role/([^/]+)/")


class Rejected(Exception):
    """The batch is refused and quarantined. ``reason`` never contains an input value; ``status`` is the HTTP
    status for API callers."""

    def __init__(self, reason: str, status: int = 422) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string | integer | decimal | date
    lake: str  # keep | pseudonymize | drop


@dataclass(frozen=True)
class Dataset:
    name: str
    producer: str
    subscribers: tuple[str, ...]
    format: str  # json | csv
    encoding: str  # utf-8 | cp932 | shift_jis
    key_column: str
    columns: tuple[Column, ...]
    formula_guard: str = "neutralize"  # neutralize | reject
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)  # system -> caller role ARNs

    @staticmethod
    def from_json(data: dict[str, Any]) -> Dataset:
        return Dataset(
            name=data["name"],
            producer=data["producer"],
            subscribers=tuple(data["subscribers"]),
            format=data["format"],
            encoding=data.get("encoding", "utf-8"),
            key_column=data["key_column"],
            columns=tuple(Column(c["name"], c["type"], c["lake"]) for c in data["columns"]),
            formula_guard=data.get("formula_guard", "neutralize"),
            roles={k: tuple(v) for k, v in data.get("roles", {}).items()},
        )

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def lake_names(self) -> list[str]:
        return [c.name for c in self.columns if c.lake != "drop"]

    def system_of(self, caller_arn: str) -> str | None:
        """The system whose role made the call (an assumed-role session ARN maps to its role)."""
        match = _ASSUMED_ROLE.match(caller_arn)
        role_arn = f"arn:aws:iam::{match.group(1)}:role/{match.group(2)}" if match else caller_arn
        for system, arns in self.roles.items():
            if role_arn in arns:
                return system
        return None


def load_datasets(raw: str) -> dict[str, Dataset]:
    import json  # noqa: PLC0415 - only here

    return {d["name"]: Dataset.from_json(d) for d in json.loads(raw)}


class _Recheck(Exception):
    """The fast, column-wise check of a chunk found something: the chunk is checked again row by row, which either
    names the first problem or (a false alarm, such as a formula character after a line break) transforms it."""


# A chunk's keys joined by line breaks: each 1-128 ASCII letters, digits, '.', '_' or '-'.
_KEYS = re.compile(r"(?a)[\w.-]{1,128}(?:\n[\w.-]{1,128})*\Z")
_KNOWN_LIMIT = 200_000
_FIRST = operator.itemgetter(0)  # valid values remembered per typed column (dates and small integers repeat)


class Transformer:
    """Checks records of one dataset and splits each into what subscribers and the data lake receive.

    CSV files go through in chunks, column by column: most checks run inside the standard library's C code (a
    set difference, a membership test, one regular expression over a chunk's keys), and each distinct date or
    number is parsed once. A chunk with any doubt is redone row by row, which is the definition of the result."""

    def __init__(self, dataset: Dataset, pseudonymizer: Pseudonymizer) -> None:
        self.dataset = dataset
        self._token = pseudonymizer.token
        self._reject_formulas = dataset.formula_guard == "reject"
        self._declared = frozenset(dataset.names)
        self._positions: list[int] = []
        self._unit = "row"
        self.in_order = False  # the input's columns are in the dataset's order
        self.changed = False  # a value was changed for subscribers (a formula neutralized)

    # ----- CSV: rows are lists of text, in the order of the file's header -----

    def csv_header(self, header: list[str]) -> list[str]:
        """Checks the header; returns the columns in the order subscribers receive them (the dataset's order)."""
        columns = self.dataset.names
        if len(header) != len(set(header)):
            raise Rejected(f"the header repeats a column name; expected the columns {', '.join(columns)}")
        undeclared = [i + 1 for i, name in enumerate(header) if name not in self._declared]
        if undeclared:
            # Positions, not names: a file without its header line would otherwise put a resident's data here.
            raise Rejected(
                f"header field(s) {', '.join(map(str, undeclared))} of {len(header)} are not columns of the dataset; "
                f"expected the columns {', '.join(columns)}"
            )
        missing = [c for c in columns if c not in header]
        if missing:
            raise Rejected(f"the header lacks the column(s) {', '.join(missing)}")
        self._compile([header.index(c) for c in columns])
        return columns

    def _compile(self, positions: list[int]) -> None:
        ds = self.dataset
        self._positions, self._width = positions, len(positions)
        self.in_order = positions == list(range(len(positions)))
        self._pick = operator.itemgetter(*positions) if len(positions) > 1 else (lambda row: (row[positions[0]],))
        self._checks = [(positions[i], CHECKS[c.type], c.name, c.type) for i, c in enumerate(ds.columns)]
        self._key_at = positions[ds.names.index(ds.key_column)]
        self._text = [(j, positions[j], c.name) for j, c in enumerate(ds.columns) if c.type == "string"]
        self._typed: list[tuple[int, Callable[[Any], bool], set[Any]]] = [
            (positions[i], CHECKS[c.type], set()) for i, c in enumerate(ds.columns) if c.type != "string"
        ]
        self._lake = [(positions[i], c.lake, c.type) for i, c in enumerate(ds.columns) if c.lake != "drop"]

    def csv_chunk(self, first: int, rows: list[list[str]]) -> tuple[list[Any], list[Any]]:
        """Rows ``first``, ``first + 1``, ...: their subscriber rows and their data lake rows."""
        try:
            return self._fast(rows)
        except _Recheck:
            outs, lakes = [], []
            for i, row in enumerate(rows):
                out, lake = self.csv_row(first + i, row)
                outs.append(out)
                lakes.append(lake)
            return outs, lakes

    def _fast(self, rows: list[list[str]]) -> tuple[list[Any], list[Any]]:
        if set(map(len, rows)) != {self._width}:
            raise _Recheck
        columns = list(zip(*rows, strict=True))
        for _, at, _ in self._text:
            if "" in columns[at] or not FORMULA_START.isdisjoint(map(_FIRST, columns[at])):
                raise _Recheck
        for at, check, known in self._typed:
            new = set(columns[at]).difference(known)
            if not all(map(check, new)):
                raise _Recheck
            if len(known) < _KNOWN_LIMIT:
                known.update(new)
        if not _KEYS.match("\n".join(columns[self._key_at])):
            raise _Recheck
        outs = rows if self.in_order else list(map(self._pick, rows))
        lake = [columns[at] if action == "keep" else self._tokens(kind, columns[at]) for at, action, kind in self._lake]
        return outs, list(zip(*lake, strict=True))

    def _tokens(self, kind: str, values: tuple[str, ...]) -> list[str]:
        token = self._token
        if kind != "string":
            return [token(canonical(kind, v)) for v in values]
        # NFKC over the chunk's values at once (a line break never normalizes or composes), then per value.
        joined = "\n".join(values)
        if not joined.isascii():
            joined = unicodedata.normalize("NFKC", joined)
        normalized = joined.split("\n")
        if len(normalized) != len(values):  # a value holds a line break itself
            return [token(canonical(kind, v)) for v in values]
        return [token(" ".join(v.split())) for v in normalized]

    def csv_row(self, n: int, row: list[Any]) -> tuple[list[Any], list[Any]]:
        """Row ``n`` (counted from 1 after the header): its subscriber row and its data lake row."""
        if len(row) != self._width:
            raise Rejected(f"row {n}: {len(row)} fields where the header has {self._width}")  # CSV only
        for at, check, name, kind in self._checks:
            if not check(row[at]):
                raise Rejected(f"{self._unit} {n}, column {name!r}: expected {EXPECTED[kind]}")
        if not is_key(row[self._key_at]):
            raise Rejected(
                f"{self._unit} {n}, key column {self.dataset.key_column!r}: expected 1-128 letters, digits, '.', '_' "
                "or '-'"
            )
        out = list(self._pick(row))
        for j, _, name in self._text:
            if is_formula(out[j]):
                out[j] = self._formula(n, name, out[j])
        token = self._token
        lake = [row[at] if action == "keep" else token(canonical(kind, row[at])) for at, action, kind in self._lake]
        return out, lake

    def _formula(self, n: int, name: str, text: str) -> str:
        if self._reject_formulas:
            raise Rejected(
                f"{self._unit} {n}, column {name!r}: starts with a character a spreadsheet runs as a formula "
                "(= + - @, tab or carriage return)"
            )
        self.changed = True
        return neutralize(text)

    # ----- JSON: records are objects -----

    def start_records(self) -> None:
        self._compile(list(range(len(self.dataset.columns))))
        self._unit = "record"

    def record(self, n: int, record: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """Record ``n`` (counted from 1): its subscriber record and its data lake record."""
        if not isinstance(record, dict):
            raise Rejected(f"record {n}: not an object")
        names = self.dataset.names
        if len(record) != len(names) or not all(c in record for c in names):
            undeclared = sum(1 for k in record if k not in self._declared)
            missing = [c for c in names if c not in record]
            problems = []
            if undeclared:
                problems.append(f"{undeclared} field(s) that are not columns of the dataset")
            if missing:
                problems.append(f"no column(s) {', '.join(missing)}")
            raise Rejected(f"record {n}: {' and '.join(problems)}; expected exactly the columns {', '.join(names)}")
        out, lake = self.csv_row(n, [record[c] for c in names])
        return dict(zip(names, out, strict=True)), dict(zip(self.dataset.lake_names, lake, strict=True))
