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
    assert result.exit_code == 2 and "source 'nope' inconnue" in result.output


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
    assert "à jour" in result.output and "qpv2024_national (facultative)" in result.output
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


# -- the --help of every command: works, in French, and no flag lost -------------------------------------------------

def _commands() -> dict[str, object]:
    """Every command of the click tree behind the typer app, by its path (``""`` the root, ``"geocoder setup"``)."""
    from typer.main import get_command

    found: dict[str, object] = {}

    def walk(command, path: tuple[str, ...]) -> None:
        found[" ".join(path)] = command
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(get_command(app), ())
    return found


#: English words a French help text does not use (flag names and values are stripped first).
_ENGLISH = ("the", "of", "and", "with", "from", "into", "file", "files", "folder", "write", "writes", "compute",
            "computes", "default", "only", "also", "every", "each", "this", "per", "layer", "layers", "scheme",
            "schemes", "assess", "show", "print", "column", "output", "allow", "rows", "instead", "when", "than")
#: Small French words: every command's description has some.
_FRENCH = ("le", "la", "les", "l", "des", "du", "de", "d", "et", "ou", "un", "une", "chaque", "par", "pour", "sur",
           "avec", "dans", "au", "aux", "sans", "en", "à", "ce", "cette", "puis")


def _words(text: str) -> set[str]:
    import re

    text = re.sub(r"(?<!\w)-{1,2}[\w-]+(?:/--?[\w-]+)?", " ", text)  # flag names (--out-of-model, -o)
    text = re.sub(r"`[^`]*`|<[^>]*>|\S+\.\S+|\S+_\S+", " ", text)  # commands, placeholders, files, machine values
    return {w.lower() for w in re.findall(r"[^\W\d_]+", text)}


def test_every_help_works_and_is_in_french() -> None:
    import re

    commands = _commands()
    assert {"", "eligibility", "check", "geocoder setup", "export"} <= set(commands)
    for path, command in commands.items():
        result = runner.invoke(app, [*path.split(), "--help"], terminal_width=200)
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output
        description = command.help or ""
        assert _words(description) & set(_FRENCH), (path, description)
        texts = {"<description>": description}
        texts.update({p.name: p.help or "" for p in command.params if p.name != "help"})
        for name, text in texts.items():
            english = _words(text) & set(_ENGLISH)
            assert not english, (path, name, english, text)
        shown = re.sub(r"\s+", " ", result.output)
        assert re.sub(r"\s+", " ", description.split("\n\n")[0]).strip()[:40] in shown, path


def _declared_options() -> dict[str, dict[str, object]]:
    """Per command: each flag declaration (``--bom/--no-bom``) or argument (``INPUT_FILE``) → its default."""
    declared: dict[str, dict[str, object]] = {}
    for path, command in _commands().items():
        options: dict[str, object] = {}
        for param in command.params:
            if param.name == "help":
                continue
            if param.param_type_name == "argument":
                key = param.name.upper()
            else:
                key = "/".join([*param.opts, *param.secondary_opts])
            default = param.default
            options[key] = "<required>" if param.required else str(default) if isinstance(default, Path) else default
        declared[path] = options
    return declared


#: The documented flags and their defaults (README, docs): a refactor that drops, renames or changes one fails here.
OPTIONS_SNAPSHOT: dict[str, dict[str, object]] = {
    "": {"--data": None, "--mirror": None, "--debug": False},
    "sources": {},
    "fetch": {"NAMES": None, "--download": False, "--sha256": None},
    "build": {"LAYERS": None, "--force": False, "--download": False},
    "info": {"LAYER": None, "--verify": False, "--full": False},
    "eligibility": {
        "INPUT_FILE": "<required>", "-o/--output": "<required>", "--scheme": None, "--rules": None, "--crs": None,
        "--lon": None, "--lat": None, "--x": None, "--y": None, "--id": None, "--finess": None, "--verdicts": None,
        "--sep": ";", "--bom/--no-bom": True, "--decimal-comma/--decimal-point": False, "--geocoder/--backend": None,
        "--url/--geocoder-url": None, "--date": None, "--speciality": None, "--deficits": None},
    "run": {"--region": "44", "--download": False, "--date": None, "--decimal-comma/--decimal-point": False},
    "application": {"FILE": "<required>", "--rules": None, "--json": False, "--en": False, "--deficits": None},
    "check": {"ADDRESS": None, "--type": None, "--scheme": None, "--date": None, "--lonlat": None,
              "--backend/--geocoder": None, "--url/--geocoder-url": None, "--rules": None, "--cache/--no-cache": True},
    "geocode": {
        "INPUT_FILE": "<required>", "-o/--output": "<required>", "--backend/--geocoder": None,
        "--url/--geocoder-url": None,
        "--addok-config": None, "--address": None, "--postcode": None, "--commune": None, "--low-score": 0.6,
        "--cache/--no-cache": True, "--sep": ";", "--bom/--no-bom": True},
    "geocoder": {},
    "geocoder setup": {
        "--departement/-d": None, "--download": False, "--file": None, "--refresh": False, "--folder": None,
        "--ban-url": "https://adresse.data.gouv.fr/data/ban/adresses/latest/addok/adresses-addok-{dep}.ndjson.gz",
        "--serve": False},
    "geocoder index": {"FILES": "<required>", "--folder": None, "--append": False},
    "geocoder serve": {"--folder": None, "--port": 7878, "--host": "127.0.0.1"},
    "access": {
        "--method": "e2sfca", "--decay": None, "--cutoff": 30.0, "--detour": 1.3, "--speeds": "5:30,20:60,80",
        "--point": "representative", "--territory": None, "--scale": 100000.0, "--name": "access",
        "-o/--output": None, "--region": None, "--sep": None, "--bom/--no-bom": None,
        "--decimal-comma/--decimal-point": False, "--raw-columns": False, "--grid": None},
    "score": {
        "-o/--output": None, "--level": "bv2012", "--region": None, "--config": None, "--components": None,
        "--top": 10, "--sep": ";", "--bom/--no-bom": True, "--decimal-comma/--decimal-point": False,
        "--raw-columns": False},
    "simulate-zoning": {
        "-o/--output": "<required>", "--region": None, "--config": None, "--territories": None,
        "--disagreements": None, "--agreement": None, "--confusion": None, "--qpv": None, "--sep": ";",
        "--bom/--no-bom": True},
    "prioritise": {
        "-o/--output": None, "--region": "44", "--posts": None, "--scheme": None, "--candidates": None,
        "--config": None, "--max-per-structure": None, "--min-per-departement": None, "--budget": None,
        "--cost": None, "--threshold": None, "--baseline": None, "--summary": None, "--naive": None,
        "--communes": None, "--territories": None, "--top": 10, "--sep": ";", "--bom/--no-bom": True,
        "--decimal-comma/--decimal-point": False, "--raw-columns": False, "--objective": None,
        "--out-of-model": False, "--date": None},
    "map": {
        "--region": None, "--national": False, "--layers": None, "--out-dir": "maps", "--static": False,
        "--tiles/--no-tiles": True, "--cdn": False, "--orientation": "paysage", "--picks": None, "--date": None},
    "export": {
        "LAYER": "<required>", "--format/-f": None, "-o/--output": None, "--territory": None, "--sep": ";",
        "--bom/--no-bom": True, "--region": None, "--departement": None, "--decimal-comma/--decimal-point": False},
}


def test_every_flag_and_default_is_kept() -> None:
    declared = _declared_options()
    assert set(declared) == set(OPTIONS_SNAPSHOT)
    for command, options in OPTIONS_SNAPSHOT.items():
        assert declared[command] == options, command
