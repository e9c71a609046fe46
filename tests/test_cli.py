"""The CDK CLI with no AWS credentials: it synthesizes the default environment offline, gives byte-identical
templates to the in-process synth the tests read (so tests check what deploys), and stops on bad config. The
production environment's templates are held to zero findings in-process (test_compliance)."""

from __future__ import annotations

from tests.support import ROOT, run_cdk


def test_cli_synth_without_credentials_matches_the_tested_templates(stg, tmp_path) -> None:
    home = tmp_path / "home"  # no ~/.aws here
    home.mkdir()
    result = run_cdk("synth", "--quiet", "-o", str(tmp_path / "out"), env={"HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert "credentials" not in result.stderr.lower()
    cli_templates = {p.name: p.read_bytes() for p in (tmp_path / "out").glob("assembly-KobeStg/*.template.json")}
    tested = {p.name: p.read_bytes() for p in stg.template_files.values()}
    assert len(tested) == len(stg.templates) >= 10
    assert cli_templates == tested


def test_cli_bad_config_stops_before_synthesis(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    source = (ROOT / "config" / "kobe-stg.toml").read_text(encoding="utf-8")
    bad.write_text(source.replace('name = "ap-northeast-1"', 'name = "us-east-1"'), encoding="utf-8")
    result = run_cdk("synth", "--quiet", "-c", f"config={bad}", "-o", str(tmp_path / "out"))
    assert result.returncode != 0
    assert f"error: {bad}: invalid configuration (1 problem)" in result.stderr
    assert "regions.primary.name = 'us-east-1'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "out").glob("**/*.template.json"))
