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
    assert "erreur :" in result.output and "Traceback" not in result.output
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
    assert "up to date" in result.output and "qpv2024_national (facultative)" in result.output
    result = runner.invoke(app, [*args, "build"])
    assert result.exit_code == 0, result.output
    assert result.output.count("inchangée") == 8
    for layer in ("communes", "zoning", "qpv", "apl", "finess", "gp_supply", "cog_crosswalk", "locate_index"):
        assert layer in result.output
    info = runner.invoke(app, [*args, "info", "communes"])
    assert info.exit_code == 0 and '"communes": 34871' in info.output


def test_eligibility_command_every_row_once(built, mirror: Path, tmp_path: Path) -> None:
    source = tmp_path / "structures.csv"
    text = ("id;nom;lon;lat;categetab\n"
            "1;Centre <img src=x onerror=alert(1)>;4,9403;49,7010;124\n"
            "2;Swapped;49,7010;4,9403;124\n"
            "3;Lambert;930000;6890000;124\n"
            "1;Dup;4,94;49,70;124\n")
    source.write_bytes(text.encode("cp1252"))
    output = tmp_path / "out.geojson"
    args = ["--data", str(built.data), "--mirror", str(mirror)]
    result = runner.invoke(app, [*args, "eligibility", str(source), "-o", str(output), "--verdicts",
                                 str(tmp_path / "verdicts.csv")])
    assert result.exit_code == 0, result.output
    assert "4 lignes lues" in result.output and "3 lignes en erreur" in result.output
    assert "Réponses par dispositif" in result.output and "400 MG volet 1" in result.output
    import geopandas as gpd

    rows = gpd.read_file(output)
    assert rows["row"].tolist() == [1, 2, 3, 4]
    assert rows["status"].tolist()[1:] == ["error", "error", "error"]
    assert rows.loc[0, "insee"] == "08409" and rows.loc[0, "nom"].startswith("Centre <img")
    unknown = runner.invoke(app, [*args, "eligibility", str(source), "-o", str(output), "--scheme", "nope"])
    assert unknown.exit_code == 2 and "dispositif(s) inconnu(s)" in unknown.output


def test_application_command(built, mirror: Path) -> None:
    example = Path(__file__).resolve().parent.parent / "docs/examples/application_400mg_volet1.yaml"
    args = ["--data", str(built.data), "--mirror", str(mirror)]
    result = runner.invoke(app, [*args, "application", str(example), "--json"])
    assert result.exit_code == 0, result.output
    assert '"status": "eligible"' in result.output and '"scheme": "400mg_volet1"' in result.output


def test_application_lists_every_failure(built, mirror: Path, tmp_path: Path) -> None:
    import yaml

    example = Path(__file__).resolve().parent.parent / "docs/examples/application_400mg_volet1.yaml"
    data = yaml.safe_load(example.read_text())
    data["doctor"] = {"diploma_mg": False, "thesis": False}
    data["ambulatory"]["category"] = "500"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True))
    result = runner.invoke(app, ["--data", str(built.data), "--mirror", str(mirror), "application", str(bad), "--json"])
    assert result.exit_code == 4  # documented: 0 eligible, 3 to check, 4 not eligible
    for code in ("PROFILE_DIPLOMA_MG_MISSING", "PROFILE_THESIS_MISSING", "STRUCTURE_KIND_NOT_ACCEPTED"):
        assert code in result.output
    # the default output is French, each condition with its reason, the funding
    text = runner.invoke(app, ["--data", str(built.data), "--mirror", str(mirror), "application", str(bad)])
    assert text.exit_code == 4
    assert "NON ÉLIGIBLE" in text.output and "Conditions non remplies" in text.output
    assert "pas de diplôme de médecine générale" in text.output and "thèse non soutenue" in text.output
    assert "EHPAD" in text.output and "Financement" in text.output and "Conditions remplies" in text.output
    ok = runner.invoke(app, ["--data", str(built.data), "--mirror", str(mirror), "application", str(example)])
    assert ok.exit_code == 0 and "ÉLIGIBLE" in ok.output and "ZAC via la commune 08409 Sedan" in ok.output


def test_main_job_run_region(built, mirror: Path, tmp_path: Path, monkeypatch) -> None:
    """The README's main command: build (nothing to do here), the Grand Est batch, the map."""
    monkeypatch.chdir(tmp_path)  # the map goes to ./maps, the tables to ./outputs
    result = runner.invoke(app, ["--data", str(built.data), "--mirror", str(mirror), "run", "--region", "44"])
    assert result.exit_code == 0, result.output
    assert "couches : 0 construites, 8 inchangées" in result.output
    assert "région 44" in result.output and "centres de santé, MSP et hôpitaux" in result.output
    assert "Réponses par dispositif" in result.output and "statut_mg" in result.output
    assert (tmp_path / "outputs" / "eligibilite_region_44.csv").exists()
    assert (tmp_path / "outputs" / "eligibilite_region_44.geojson").exists()
    assert (tmp_path / "outputs" / "eligibilite_region_44_verdicts.csv").exists()
    map_path = tmp_path / "maps" / "region_44.html"
    assert map_path.exists() and "carte : maps/region_44.html" in result.output.replace("\n", "")


def test_output_equal_to_the_input_is_refused(tmp_path: Path) -> None:
    """Issue 15: `-o` equal to the input overwrote the input."""
    source = tmp_path / "in.csv"
    text = "nom;lon;lat\nA;6,1757;49,1193\n"
    source.write_text(text, encoding="utf-8")
    for command in (["eligibility", str(source), "-o", str(tmp_path / "." / "in.csv")],
                    ["geocode", str(source), "-o", str(source)]):
        result = runner.invoke(app, ["--data", str(tmp_path / "data"), *command])
        assert result.exit_code == 2, result.output
        assert "erreur" in result.output and "Traceback" not in result.output
        assert source.read_text(encoding="utf-8") == text


def test_a_missing_maps_extra_is_a_user_error(built, monkeypatch, capsys) -> None:
    """Without folium (the [maps] extra) a map command says what to install; eligibility still runs."""
    import sys

    from zonage.cli import main

    monkeypatch.setitem(sys.modules, "folium", None)  # as if not installed
    for name in [m for m in sys.modules if m.startswith("zonage.maps")]:
        monkeypatch.delitem(sys.modules, name)
    code = main(["--data", str(built.data), "map", "--region", "28"])
    err = capsys.readouterr().err
    assert code == 2 and "pip install 'zonage[maps]'" in err and "Traceback" not in err
