"""The JSON Schema of a config file, generated from the models: editors that read it (the ``#:schema`` line at the
top of each file in ``config/``) flag an unknown key or a bad value as it is typed.

``python -m govcloud.config.schema`` writes ``config/schema.json``; a test keeps the file current.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from govcloud.config.loader import CONFIG_DIR
from govcloud.config.model import Config

SCHEMA_FILE = CONFIG_DIR / "schema.json"


def json_schema() -> dict[str, Any]:
    schema = Config.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Kobe City Government Cloud landing zone: environment config",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def render() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_text(render(), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}", file=sys.stderr)
