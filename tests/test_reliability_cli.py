"""Reliability (issue #15, family 8): foreseeable mistakes on the command line end with exit 2
and one ``erreur :`` line, never a traceback nor the "internal error" exit 70.

Cases: an unknown ``--crs``; an output path where nothing can be written; ``--sep ''`` and a
separator of several characters (all refused before the batch runs); application files with
values of the wrong type.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from zonage import cli
from zonage.errors import ZonageError
from zonage.export import check_writable, csv_style, write_table


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code, err, _ = _run_out(capsys, *args)
    return code, err


def _run_out(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main([*args])
    captured = capsys.readouterr()
    return code, captured.err, captured.out


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err and "erreur interne" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("erreur : "), err
    return lines[0]


# -- the library functions that refuse ------------------------------------------------------------
@pytest.mark.parametrize("sep", ["", ";;", "\n", '"', "ab"])
def test_write_table_refuses_a_bad_separator(tmp_path: Path, sep: str) -> None:
    with pytest.raises(ZonageError, match=r"séparateur CSV .* un seul caractère"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "x.csv", sep=sep)
    with pytest.raises(ZonageError, match=r"séparateur CSV .* un seul caractère"):
        csv_style(sep, False, False)  # what the commands call first, before any work
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind
    write_table(pd.DataFrame({"a": [1], "b": [2]}), tmp_path / "ok.csv", sep="\t")
    assert (tmp_path / "ok.csv").read_text(encoding="utf-8").splitlines() == ["a\tb", "1\t2"]


def test_unwritable_outputs_are_one_clear_error(tmp_path: Path) -> None:
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x", encoding="utf-8")
    for target in (Path("/proc/x.csv"), a_file / "x.csv"):
        with pytest.raises(ZonageError, match=rf"impossible d'écrire {target} \("):
            check_writable(target)
        with pytest.raises(ZonageError, match="impossible d'écrire"):
            write_table(pd.DataFrame({"a": [1]}), target)
    check_writable(tmp_path / "new" / "folder" / "x.csv")  # missing folders are created
    assert not list((tmp_path / "new" / "folder").iterdir())


# -- the command line ------------------------------------------------------------------------------
@pytest.fixture()
def inputs(tmp_path: Path) -> dict[str, Path]:
    lonlat = tmp_path / "in.csv"
    lonlat.write_text("nom;lon;lat\nA;6,1757;49,1193\n", encoding="utf-8")
    xy = tmp_path / "xy.csv"
    xy.write_text("nom;x;y\nA;930000;6890000\n", encoding="utf-8")
    plain = tmp_path / "plain.txt"
    plain.write_text("x", encoding="utf-8")
    return {"lonlat": lonlat, "xy": xy, "plain": plain}


def test_eligibility_command_mistakes_exit_2(built, mirror: Path, tmp_path: Path, inputs: dict[str, Path],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--data", str(built.data), "--mirror", str(mirror), "eligibility"]
    out = str(tmp_path / "out.csv")
    cases = [
        ([str(inputs["xy"]), "-o", out, "--crs", "nonsense"], r"--crs 'nonsense' : système de coordonnées inconnu"),
        ([str(inputs["xy"]), "-o", out, "--crs", "EPSG:99999"], r"--crs 'EPSG:99999' : système de coordonnées"),
        ([str(inputs["lonlat"]), "-o", "/proc/x.csv"], r"impossible d'écrire /proc/x\.csv"),
        ([str(inputs["lonlat"]), "-o", str(inputs["plain"] / "x.csv")], r"impossible d'écrire .*plain\.txt/x\.csv"),
        ([str(inputs["lonlat"]), "-o", out, "--sep", ""], r"séparateur CSV '' : donner un seul caractère"),
        ([str(inputs["lonlat"]), "-o", out, "--sep", ";;"], r"séparateur CSV ';;'"),
    ]
    for args, message in cases:
        code, err, printed = _run_out(capsys, *base, *args)
        assert code == 2, (args, err)
        assert pd.Series([_one_error_line(err)]).str.contains(message).all(), (args, err)
        # refused before the input is read and the batch runs
        assert "lignes lues" not in printed and "ligne lue" not in printed, args
    assert not (tmp_path / "out.csv").exists()
    code, err = _run(capsys, *base, str(inputs["xy"]), "-o", out, "--crs", "EPSG:2154", "--sep", ";")
    assert code == 0, err
    assert (tmp_path / "out.csv").read_text(encoding="utf-8-sig").startswith("row;nom;x;y;status;")


@pytest.mark.parametrize(("text", "message"), [
    ("scheme: [1, 2]\n", r"ligne 1, clé scheme : doit être du texte"),
    ("scheme: aumg\nstart: 01/01/99999999999999999999\n", r"ligne 2, clé start : .*date"),  # was exit 70
    ("scheme: aumg\nstart: 2024-13-45\n", r"ligne 2 : date invalide"),  # was exit 70
    ("scheme: aumg\nduration_years: deux ans\n", r"ligne 2, clé duration_years : doit être un nombre"),
    ("scheme: aumg\nduration_years: 1e999\n", r"ligne 2, clé duration_years : doit être un nombre fini"),
    ("scheme: aumg\nambulatory: {lon: [6.1], lat: 49}\n", r"ligne 2, clé ambulatory\.lon"),
    ("scheme: aumg\ndoctor: {speciality: {a: 1}}\n", r"ligne 2, clé doctor\.speciality"),
    ("scheme: aumg\nregion: 99999\n", r"ligne 2, clé region : doit être inférieur ou égal à 999"),
    ("scheme: aumg\nfunding: {salary: [1, -2]}\n", r"ligne 2, clé funding\.salary\.1 : .*supérieur ou égal à 0"),
    ("scheme: aumg\nshares: hospital\n", r"ligne 2, clé shares"),
    ("scheme: aumg\n? [a, b]\n: 1\n", r"YAML invalide"),
    ("just text\n", r"avec au moins la clé 'scheme'"),
])
def test_application_bad_values_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                       message: str) -> None:
    file = tmp_path / "a.yaml"
    file.write_text(text, encoding="utf-8")
    code, err = _run(capsys, "--data", str(tmp_path / "data"), "application", str(file))
    assert code == 2, err
    line = _one_error_line(err)
    assert "a.yaml : " in line and pd.Series([line]).str.contains(message).all(), line


@pytest.mark.parametrize(("args", "message"), [
    (["eligibility", "in.csv", "--typ", "x"], r"^erreur : option inconnue --typ .*; voir zonage eligibility --help$"),
    (["--no-such-option"], r"^erreur : option inconnue --no-such-option ; voir zonage --help$"),
    (["nope"], r"^erreur : commande inconnue « nope » ; voir zonage --help$"),
    (["eligibility"], r"^erreur : argument manquant .*input_file.* ; voir zonage eligibility --help$"),
    (["check", "--date"], r"^erreur : l'option --date attend une valeur ; voir zonage check --help$"),
    (["access", "--cutoff", "abc"], r"^erreur : --cutoff : « abc » doit être un nombre ; voir zonage access --help$"),
])
def test_usage_errors_are_one_french_line(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, err = _run(capsys, *args)
    assert code == 2, err
    assert pd.Series([_one_error_line(err)]).str.contains(message).all(), err
