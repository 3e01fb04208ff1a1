from pathlib import Path

from typer.testing import CliRunner

from zonage.cli import app

runner = CliRunner()


def test_help_everywhere() -> None:
    for args in ([], ["fetch"], ["build"], ["info"], ["sources"]):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, args
        assert "Usage" in result.output


def test_user_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--data", str(tmp_path), "info"])
    assert result.exit_code == 2
    assert "error:" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["--data", str(tmp_path), "fetch", "finess"], env={"ZONAGE_MIRROR": ""})
    assert result.exit_code == 2 and "finess" in result.output and "--download" in result.output
    result = runner.invoke(app, ["--data", str(tmp_path), "fetch", "nope"])
    assert result.exit_code == 2 and "unknown source 'nope'" in result.output


def test_debug_shows_the_exception(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--debug", "--data", str(tmp_path), "info"])
    assert result.exit_code != 0 and result.exception is not None


def test_sources_lists_catalogue() -> None:
    result = runner.invoke(app, ["sources"])
    assert result.exit_code == 0 and "decoupage_administratif" in result.output


def test_fetch_and_rebuild_is_a_no_op(built, mirror: Path) -> None:
    args = ["--data", str(built.data), "--mirror", str(mirror)]
    result = runner.invoke(app, [*args, "fetch"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output and "qpv2024_national (optional)" in result.output
    result = runner.invoke(app, [*args, "build"])
    assert result.exit_code == 0, result.output
    assert result.output.count("unchanged") == 7
    for layer in ("communes", "zoning", "qpv", "apl", "finess", "gp_supply", "cog_crosswalk"):
        assert layer in result.output
    info = runner.invoke(app, [*args, "info", "communes"])
    assert info.exit_code == 0 and '"communes": 34871' in info.output
