"""The CDK CLI with no AWS credentials: it synthesizes the default environment offline, gives byte-identical
templates to the in-process synth the tests read (so tests check what deploys), and stops on bad config. The
production environment's templates are held to zero findings in-process (test_compliance)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import ROOT, CliRun


@pytest.mark.cdk_cli("synth", "--quiet", "-o", "{dir}/out", env={"HOME": "{dir}"})  # no ~/.aws there
def test_cli_synth_without_credentials_matches_the_tested_templates(stg, cdk_cli: CliRun) -> None:
    result = cdk_cli.result
    assert result is not None and result.returncode == 0, result and result.stderr
    assert "credentials" not in result.stderr.lower()
    cli_templates = {
        p.name: p.read_bytes() for p in (cdk_cli.directory / "out").glob("assembly-KobeStg/*.template.json")
    }
    tested = {p.name: p.read_bytes() for p in stg.template_files.values()}
    assert len(tested) == len(stg.templates) >= 10
    assert cli_templates == tested


def write_bad_config(directory: Path) -> None:
    source = (ROOT / "config" / "kobe-stg.toml").read_text(encoding="utf-8")
    (directory / "bad.toml").write_text(
        source.replace('name = "ap-northeast-1"', 'name = "us-east-1"'), encoding="utf-8"
    )


@pytest.mark.cdk_cli("synth", "--quiet", "-c", "config={dir}/bad.toml", "-o", "{dir}/out", prepare=write_bad_config)
def test_cli_bad_config_stops_before_synthesis(cdk_cli: CliRun) -> None:
    result, bad = cdk_cli.result, cdk_cli.directory / "bad.toml"
    assert result is not None and result.returncode != 0
    assert f"error: {bad}: invalid configuration (1 problem)" in result.stderr
    assert "regions.primary.name = 'us-east-1'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((cdk_cli.directory / "out").glob("**/*.template.json"))
