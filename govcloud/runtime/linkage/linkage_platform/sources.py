"""Where a batch comes from: the body of an API request (a JSON array), or a file in the inbox (CSV with a header,
or JSON Lines), read as a stream: a resident list is never held in memory whole."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from itertools import islice
from typing import Any
from urllib.parse import unquote_plus

from linkage_platform.batches import error_code
from linkage_platform.schema import Dataset, Rejected, Transformer
from linkage_platform.values import CODECS

READ_CHUNK = 1024 * 1024  # bytes decoded at a time
ROWS_PER_CHUNK = 4096  # rows checked and written together
# What one function run does within Lambda's 15 minutes with room to spare: about 30 million rows at the rate
# make bench measures, three times slower (README). Larger files belong on a distributed engine.
MAX_FILE_BYTES = 3 * 1024**3


def _no_constant(name: str) -> Any:
    raise ValueError("NaN and Infinity are not numbers")


def _json_problem(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON at line {error.lineno} column {error.colno}"
    if isinstance(error, UnicodeDecodeError):
        return "not valid UTF-8"
    return "not valid JSON (NaN and Infinity are not numbers)"


class ApiSource:
    kind = "api"
    format = "json"
    copyable = False

    def __init__(self, dataset: Dataset, body: bytes) -> None:
        self.dataset, self.body = dataset, body

    def header(self) -> list[str]:
        return self.dataset.names

    def chunks(self, transformer: Transformer) -> Iterator[tuple[list[Any], list[Any]]]:
        try:
            data = json.loads(self.body, parse_constant=_no_constant)
        except ValueError as error:
            raise Rejected(_json_problem(error)) from None
        if not isinstance(data, list):
            raise Rejected("the body must be a JSON array of records")
        transformer.start_records()
        seen: dict[Any, int] = {}
        key = self.dataset.key_column
        outs, lakes = [], []
        for n, record in enumerate(data, 1):
            out, lake = transformer.record(n, record)
            earlier = seen.setdefault(out[key], n)
            if earlier != n:
                raise Rejected(f"record {n}: the same {key} as record {earlier}")
            outs.append(out)
            lakes.append(lake)
        if outs:
            yield outs, lakes

    def keep(self, s3: Any, bucket: str, key: str) -> None:
        s3.put_object(Bucket=bucket, Key=key, Body=self.body)

    def copy(self, s3: Any, bucket: str, key: str, *, content_type: str, tags: str) -> None:
        raise NotImplementedError("an API batch is always written")


class FileSource:
    kind = "file"

    def __init__(self, s3: Any, bucket: str, key: str, version: str | None, dataset: Dataset | None) -> None:
        self._s3, self._bucket, self._key, self._version = s3, bucket, key, version
        self.dataset = dataset
        self.format = dataset.format if dataset else "csv"
        self._header: list[str] = []

    def _version_args(self) -> dict[str, str]:
        return {"VersionId": self._version} if self._version else {}

    def header(self) -> list[str]:
        return self._header

    @property
    def copyable(self) -> bool:
        return self.format == "csv"

    def copy(self, s3: Any, bucket: str, key: str, *, content_type: str, tags: str) -> None:
        s3.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": self._bucket, "Key": self._key, **self._version_args()},
            MetadataDirective="REPLACE",
            ContentType=content_type,
            TaggingDirective="REPLACE",
            Tagging=tags,
        )

    def chunks(self, transformer: Transformer) -> Iterator[tuple[list[Any], list[Any]]]:
        assert self.dataset is not None
        obj = self._s3.get_object(Bucket=self._bucket, Key=self._key, **self._version_args())
        if obj["ContentLength"] > MAX_FILE_BYTES:
            obj["Body"].close()
            raise Rejected(
                f"the file has {obj['ContentLength']} bytes, more than the {MAX_FILE_BYTES} one run of the file "
                "handler reads: split it into several files"
            )
        body = obj["Body"]
        encoding = CODECS[self.dataset.encoding] if self.format == "csv" else "utf-8-sig"
        text = io.TextIOWrapper(body, encoding=encoding, newline="")
        text._CHUNK_SIZE = READ_CHUNK  # type: ignore[attr-defined]  # fewer, larger decodes
        if self.format == "csv":
            yield from self._csv_chunks(text, transformer, encoding.removesuffix("-sig"))
        else:
            yield from self._json_lines(text, transformer)

    def _csv_chunks(self, text: io.TextIOWrapper, transformer: Transformer, encoding: str) -> Iterator[Any]:
        n = 0
        try:
            reader = csv.reader(text, strict=True)
            header = next(reader, None)
            if header is None:
                raise Rejected("the file is empty; expected a header line and records")
            self._header = transformer.csv_header(header)
            while rows := list(islice(reader, ROWS_PER_CHUNK)):
                if [] in rows:  # blank lines
                    rows = [row for row in rows if row]
                if rows:
                    yield transformer.csv_chunk(n + 1, rows)
                    n += len(rows)
        except UnicodeDecodeError:
            raise Rejected(f"not valid {encoding}: bytes after row {n} cannot be decoded") from None
        except csv.Error:
            raise Rejected(f"after row {n}: not valid CSV (an unclosed quote, or a field over 128 KiB)") from None

    def _json_lines(self, text: io.TextIOWrapper, transformer: Transformer) -> Iterator[Any]:
        transformer.start_records()
        self._header = transformer.dataset.names
        n = 0
        outs: list[Any] = []
        lakes: list[Any] = []
        try:
            for line in text:
                if not line.strip():
                    continue
                n += 1
                try:
                    record = json.loads(line, parse_constant=_no_constant)
                except ValueError:
                    raise Rejected(f"line {n}: not valid JSON (one record per line)") from None
                out, lake = transformer.record(n, record)
                outs.append(out)
                lakes.append(lake)
                if len(outs) == ROWS_PER_CHUNK:
                    yield outs, lakes
                    outs, lakes = [], []
        except UnicodeDecodeError:
            raise Rejected(f"not valid UTF-8: bytes after line {n} cannot be decoded") from None
        if outs:
            yield outs, lakes

    def keep(self, s3: Any, bucket: str, key: str) -> None:
        """A server-side copy: the file never passes through the function."""
        for name in dict.fromkeys([self._key, unquote_plus(self._key)]):
            try:
                s3.copy_object(
                    Bucket=bucket,
                    Key=key,
                    CopySource={"Bucket": self._bucket, "Key": name, **self._version_args()},
                )
                return
            except Exception as error:  # tried once more with the decoded name
                if error_code(error) not in ("NoSuchKey", "404"):
                    raise
        # Gone already (a retry after the inbox was cleaned): the reason is kept without the payload.
