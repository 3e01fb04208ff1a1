"""Commands ``zonage score``, ``zonage simulate-zoning`` and ``zonage prioritise`` (issue 6).

Registered on the main typer app by :func:`register` (``register(app)`` in :mod:`zonage.cli`).
``score`` works on whole communes (GPs are counted per commune, so Paris, Lyon and
Marseille are not split); ``simulate-zoning`` splits them into arrondissements, their
territories in the zoning method. Like the rest of the command
line they only parse arguments, call the library (:mod:`zonage.priority`), write the
tables (:func:`zonage.export.write_table`, atomic) and print a summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from zonage.cli.common import (
    BomOpt,
    ConfigOpt,
    DateOpt,
    DecimalCommaOpt,
    RawColumnsOpt,
    RegionFilterOpt,
    RegionOpt,
    SepOpt,
    TerritoriesOutOpt,
    console,
    fail_in,
    out,
    paths_of,
)
from zonage.config import Paths
from zonage.errors import ZonageError
from zonage.export import csv_style
from zonage.numbers import french_number

_GEO = {".geojson", ".json", ".gpkg"}

#: Folder of the outputs written without ``-o``: in the current directory, visible (never a temporary folder).
OUTPUTS = Path("outputs")


def default_output(name: str) -> Path:
    """``outputs/<name>.csv`` in the current directory (absolute), the default of the commands' ``-o``.

    A name that would leave the folder (a région given as ``../x``) is refused.
    """
    from zonage.export import inside_folder

    return inside_folder(OUTPUTS, f"{name}.csv")


def _with_geometry(frame: pd.DataFrame, paths: Paths, path: Path) -> pd.DataFrame:
    """Commune polygons on the table when ``path`` is a geographic format (:func:`zonage.maps.gis.with_communes`)."""
    if path.suffix.lower() not in _GEO:
        return frame
    from zonage.maps.gis import with_communes

    return with_communes(frame, paths)


def _pct(value: float) -> str:
    return "" if pd.isna(value) else f"{french_number(100 * value, 1)} %"


def print_agreement(agreement: pd.DataFrame, console_out: Console = out) -> None:
    """Print the agreement table of :class:`zonage.priority.Comparison` with rich."""
    table = Table(title="zonage simulé et zonage officiel (ZAR et ZV comparées comme HZ)")
    for column in ("région", "unités", "accord", "accord (pop.)", "accord zonées", "accord zonées (pop.)",
                   "ZIP officielles", "ZIP simulées"):
        table.add_column(column, justify="left" if column == "région" else "right")
    for row in agreement.to_dict("records"):
        table.add_row(str(row["region"]), french_number(row["n_units"], 0), _pct(row["share_units"]),
                      _pct(row["share_population"]), _pct(row["share_units_zoned"]),
                      _pct(row["share_population_zoned"]), _pct(row["official_zip_share"]),
                      _pct(row["simulated_zip_share"]))
    console_out.print(table)


def _jsonable(value: object) -> object:
    """Plain JSON values: numpy scalars as numbers, NaN and infinities as null, tuples as lists."""
    import math

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def register(app: typer.Typer) -> None:
    """Add the ``score``, ``simulate-zoning`` and ``prioritise`` commands to ``app``."""

    @app.command("score")
    def score_command(
        ctx: typer.Context,
        output: Annotated[Path | None, typer.Option(
            "-o", "--output", help="Scores : .csv, .xlsx, .parquet, .geojson ou .gpkg ; par défaut "
                                   "outputs/score_<niveau>[_region_<code>].csv dans le dossier courant.")] = None,
        level: Annotated[str, typer.Option(
            help="Niveau des territoires : commune, bv2012 (approche des TVS), epci ou departement.")] = "bv2012",
        region: RegionFilterOpt = None,
        config: ConfigOpt = None,
        components: Annotated[
            Path | None, typer.Option(help="Écrire aussi la table longue des composantes (une ligne par critère).")
        ] = None,
        top: Annotated[int, typer.Option(help="Nombre de territoires affichés dans le bilan.")] = 10,
        sep: SepOpt = ";",
        bom: BomOpt = True,
        decimal_comma: DecimalCommaOpt = False,
        raw_columns: RawColumnsOpt = False,
    ) -> None:
        """Score de besoin multicritère par territoire (APL, densité de généralistes, population, QPV), détaillé."""
        from zonage.export import format_of, write_table
        from zonage.priority import load_config, territories_scores
        from zonage.studies.territories import load_inputs

        csv = csv_style(sep, bom, decimal_comma)
        try:
            if output is None:
                output = default_output(f"score_{level}" + (f"_region_{region}" if region else ""))
            format_of(output)
            if components is not None:
                format_of(components)
            paths = paths_of(ctx)
            params = load_config(config)
            inputs = load_inputs(paths, params, arrondissements=False)
            scores = territories_scores(inputs, level, params, region=region)
            table = scores.table
            if output.suffix.lower() in _GEO and level != "commune":
                raise ZonageError(f"{output.name} : les polygones ne sont écrits qu'avec --level commune ; écrire "
                                  "un .csv ou un .parquet")
            write_table(_with_geometry(table, paths, output), output, labels=None if raw_columns else "score", **csv)
            if components:
                write_table(scores.components, components, labels=None if raw_columns else "score_components",
                            **csv)
        except ZonageError as exc:
            fail_in(ctx, exc)
            return
        weights = ", ".join(f"{c.name} {c.weight:g} ({c.direction})" for c in params.scoring.criteria if c.weight)
        out.print(f"[bold]{french_number(len(table), 0)} territoires[/] ({level}"
                  f"{', région ' + region if region else ''}) ; APL {params.apl_column} {params.apl_year} ; "
                  f"poids : {weights} ; normalisation : {params.scoring.normalisation}", soft_wrap=True,
                  highlight=False)
        unscored = int(table["score"].isna().sum())
        if unscored:
            column = "missing" if raw_columns else "criteres_manquants"
            out.print(f"{unscored} territoires sans score (trop peu de critères connus, voir la colonne {column})")
        shown = Table(title=f"les {top} premiers (les plus en besoin d'abord)")
        numbers = ("rang", "score", "APL", "MG/10 000 hab.", "population")
        for column in ("rang", "code", "nom", "score", "APL", "MG/10 000 hab.", "population", "pourquoi"):
            shown.add_column(column, justify="right" if column in numbers else "left", overflow="fold")
        for row in table.head(top).to_dict("records"):
            shown.add_row(str(row["rank"]), str(row["code"]), str(row["name"]), french_number(row["score"], 1),
                          french_number(row["apl"], 2), french_number(row["gp_density"], 1),
                          french_number(row["population"], 0), str(row["explanation"]).split(";")[0])
        out.print(shown)
        out.print(f"écrit : {output}" + (f" et {components}" if components else ""), soft_wrap=True,
                  highlight=False)

    @app.command("simulate-zoning")
    def simulate_command(
        ctx: typer.Context,
        output: Annotated[
            Path, typer.Option("-o", "--output", help="Par commune : zonages simulé et officiel (.csv, .parquet, "
                                                      ".geojson, .gpkg).")
        ],
        # a list, default every région: not the single --region of the other commands
        region: Annotated[
            list[str] | None, typer.Option(help="Code INSEE de région à rapporter (répéter ; par défaut toutes).")
        ] = None,
        config: ConfigOpt = None,
        territories: TerritoriesOutOpt = None,
        disagreements: Annotated[
            Path | None, typer.Option(help="Écrire aussi les désaccords (prêts pour une carte : .geojson/.gpkg pour "
                                           "les polygones).")
        ] = None,
        agreement: Annotated[Path | None, typer.Option(
            help="Écrire aussi la table d'accord par région.")] = None,
        confusion: Annotated[Path | None, typer.Option(help="Écrire aussi la table longue de confusion.")] = None,
        qpv: Annotated[Path | None, typer.Option(
            help="Écrire aussi la table des QPV (classe héritée / officielle).")] = None,
        sep: SepOpt = ";",
        bom: BomOpt = True,
    ) -> None:
        """Simule le zonage 2017–2024 (seuils d'APL, vivier, plafonds) et le compare au zonage officiel."""
        from zonage.export import format_of, write_table
        from zonage.priority import compare_zoning, confusion_matrix, load_config
        from zonage.priority import simulate_zoning as simulate
        from zonage.studies.territories import load_inputs, load_official

        try:
            for target in (output, territories, disagreements, agreement, confusion, qpv):
                if target is not None:
                    format_of(target)
            paths = paths_of(ctx)
            params = load_config(config)
            inputs = load_inputs(paths, params)
            simulation = simulate(inputs, params, regions=region)
            comparison = compare_zoning(simulation, load_official(paths), params.class_map)
            written = [write_table(_with_geometry(comparison.table, paths, output), output, sep=sep, bom=bom)]
            if territories:
                written.append(write_table(simulation.territories, territories, sep=sep, bom=bom))
            if disagreements:
                written.append(write_table(_with_geometry(comparison.disagreements, paths, disagreements),
                                           disagreements, sep=sep, bom=bom))
            if agreement:
                written.append(write_table(comparison.agreement, agreement, sep=sep, bom=bom))
            if confusion:
                written.append(write_table(comparison.confusion, confusion, sep=sep, bom=bom))
            if qpv:
                written.append(write_table(simulation.qpv, qpv, sep=sep, bom=bom))
        except ZonageError as exc:
            fail_in(ctx, exc)
            return
        sim = params.simulation
        caps = ", ".join(f"{k} {_pct(v)}" for k, v in sim.caps.items())
        margin = f"oui, {_pct(sim.margin_share)}" if sim.margin_enabled else "non"
        out.print(f"[bold]simulation du zonage[/] : APL {params.apl_column} {params.apl_year} (approche de l'APL "
                  f"des arrêtés de 2022) ; territoires (approche des TVS) {sim.territory} ; ZIP ≤ {sim.zip_max:g} < "
                  f"vivier ≤ {sim.vivier_max:g} ; plafond ZIP {_pct(sim.cap_default)} "
                  f"({caps or 'aucun plafond propre à une région'}) ; vivier {sim.vivier_order}/{sim.vivier_fill}, "
                  f"reste {sim.vivier_rest} ; marge : {margin}", soft_wrap=True, highlight=False)
        counts = simulation.territories["classe"].value_counts()
        out.print("territoires : " + ", ".join(f"{k} {french_number(v, 0)}" for k, v in counts.items()),
                  highlight=False)
        over = simulation.regions.loc[simulation.regions["national_over_cap"], "region"].tolist()
        if over:
            out.print(f"régions dont la seule sélection nationale dépasse le plafond (pas de zone B) : "
                      f"{', '.join(over)}", highlight=False)
        print_agreement(comparison.agreement)
        scope = region[0] if region and len(region) == 1 else "all"
        out.print(f"[bold]matrice de confusion[/] ({'France' if scope == 'all' else scope}, communes ; lignes : "
                  "simulé, colonnes : officiel)")
        out.print(confusion_matrix(comparison.confusion, scope).to_string(), highlight=False)
        for path in written:
            out.print(f"écrit : {path}", soft_wrap=True, highlight=False)

    @app.command("prioritise")
    def prioritise_command(
        ctx: typer.Context,
        output: Annotated[Path | None, typer.Option(
            "-o", "--output", help="Postes classés : .csv, .xlsx, .geojson, .gpkg ou .parquet ; par défaut "
                                   "outputs/prioritise_region_<code>.csv dans le dossier courant.")] = None,
        region: RegionOpt = "44",
        posts: Annotated[
            int | None, typer.Option(help="Nombre de postes à répartir, à parts égales entre les dispositifs (ou "
                                          "par dispositif avec --scheme NOM=NOMBRE).")
        ] = None,
        # NAME=COUNT: not the SchemeOpt of eligibility and check
        scheme: Annotated[
            list[str] | None,
            typer.Option(help="Dispositif des postes, à répéter ; NOM=NOMBRE pour lui donner son nombre de postes "
                              "(par défaut : ceux de la configuration).")
        ] = None,
        candidates: Annotated[
            Path | None,
            typer.Option(help="Structures candidates (CSV/XLSX/GeoJSON… comme pour `zonage eligibility`) ; par "
                              "défaut : les centres de santé, MSP et hôpitaux FINESS de la région.")
        ] = None,
        config: ConfigOpt = None,
        max_per_structure: Annotated[
            int | None, typer.Option(help="Au plus ce nombre de postes par structure (0 : pas de plafond).")] = None,
        min_per_departement: Annotated[
            int | None, typer.Option(help="Au moins ce nombre de postes dans chaque département.")] = None,
        budget: Annotated[float | None, typer.Option(
            help="Budget, dans l'unité des coûts (0 : pas de budget).")] = None,
        cost: Annotated[
            list[str] | None, typer.Option(help="Coût d'un poste d'un dispositif, DISPOSITIF=VALEUR (répéter).")
        ] = None,
        threshold: Annotated[
            float | None, typer.Option(
                help="Accessibilité sous laquelle la population est mal desservie (par défaut 4,0).")
        ] = None,
        baseline: Annotated[
            str | None, typer.Option(help="Accessibilité de départ : engine (BPE, vol d'oiseau) ou drees (APL "
                                          "officielle).")
        ] = None,
        summary: Annotated[
            Path | None, typer.Option(help="Bilan (JSON) ; par défaut <nom de la sortie>_summary.json à côté de "
                                           "la sortie.")
        ] = None,
        naive: Annotated[Path | None, typer.Option(help="Écrire aussi les postes de la règle naïve.")] = None,
        communes: Annotated[
            Path | None, typer.Option(help="Écrire aussi l'accessibilité par commune avant/après (CSV/Parquet).")
        ] = None,
        territories: TerritoriesOutOpt = None,
        top: Annotated[int, typer.Option(help="Nombre de postes affichés dans le bilan.")] = 10,
        sep: SepOpt = ";",
        bom: BomOpt = True,
        decimal_comma: DecimalCommaOpt = False,
        raw_columns: RawColumnsOpt = False,
        objective: Annotated[str | None, typer.Option(
            help="Critère de jugement des plans : shortfall_squared (par défaut), consultations_under, lifted, "
                 "combined."
        )] = None,
        out_of_model: Annotated[bool, typer.Option(
            "--out-of-model", help="Juger aussi chaque plan sur chaque modèle de trajet laissé hors de "
                                   "l'optimisation.")] = False,
        date: DateOpt = None,
    ) -> None:
        """Choisit les postes qui relèvent le plus l'accessibilité sous le seuil ; les compare à la règle naïve."""
        import json

        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from zonage.export import format_of, write_table
        from zonage.io import write_text_atomic
        from zonage.priority import load_config
        from zonage.studies.prioritisation import prioritise

        def pairs(values: list[str] | None, what: str, number: type) -> dict[str, object]:
            parsed: dict[str, object] = {}
            for value in values or []:
                name, sign, amount = value.partition("=")
                if not name.strip():
                    raise ZonageError(f"--{what} {value!r} : attendu NOM ou NOM=VALEUR")
                try:
                    parsed[name.strip()] = number(amount) if sign else None
                except ValueError:
                    kind = "un nombre entier" if number is int else "un nombre"
                    raise ZonageError(f"--{what} {value!r} : {amount!r} n'est pas {kind}") from None
            return parsed

        csv = csv_style(sep, bom, decimal_comma)

        def labels(table: str) -> str | None:
            return None if raw_columns else table

        try:
            if output is None:
                output = default_output(f"prioritise_region_{region}")
            for target in (output, naive, communes, territories):
                if target is not None:
                    format_of(target)
            summary_path = summary or output.with_name(f"{output.stem}_summary.json")
            paths = paths_of(ctx)
            from zonage.rules.coerce import parse_date

            on = parse_date(date, "--date")
            schemes = pairs(scheme, "scheme", int)
            costs = pairs(cost, "cost", float)
            if any(v is None for v in costs.values()):
                raise ZonageError("--cost : donner DISPOSITIF=VALEUR")
            counted = {k: v for k, v in schemes.items() if v is not None}
            if counted and len(counted) != len(schemes):
                raise ZonageError("--scheme : donner un nombre de postes à chaque dispositif (NOM=NOMBRE) ou à "
                                  "aucun")
            if counted:
                per_scheme = {k: int(str(v)) for k, v in counted.items()}
                if posts is not None and posts != sum(per_scheme.values()):
                    total = sum(per_scheme.values())
                    raise ZonageError(f"--posts {posts} diffère de la somme des postes par dispositif ({total})")
                wanted: int | dict[str, int] = per_scheme
            elif posts is None:
                raise ZonageError("donner --posts N (ou --scheme NOM=NOMBRE pour chaque dispositif)")
            else:
                wanted = posts
            overrides: dict[str, object] = {}
            if schemes:
                overrides["schemes"] = list(schemes)
            for key, value in (("max_per_structure", max_per_structure), ("min_per_departement", min_per_departement),
                               ("budget", budget), ("threshold", threshold), ("baseline", baseline),
                               ("objective", objective)):
                if value is not None:
                    overrides[key] = value
            if costs:
                overrides["costs"] = {"schemes": costs}
            params = load_config(config, overrides={"allocation": overrides} if overrides else None)
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=console, transient=True) as progress:
                task = progress.add_task("préparation", total=None)

                def step(stage: str, done: int, total: int | None) -> None:
                    labels = {"eligibility": "évaluation des structures candidates",
                              "layers": "coûts de trajet, accessibilité de départ",
                              "greedy": "répartition des postes (glouton)", "naive": "règle naïve"}
                    progress.update(task, description=labels.get(stage, stage), completed=done, total=total)

                rows = None
                if candidates is not None:
                    from zonage.eligibility import assess
                    from zonage.inputs import detect_columns, read_table
                    from zonage.studies.eligibility import batch_context

                    frame = read_table(candidates)
                    context = batch_context(paths)
                    rows = assess(frame, context["locator"], spec=detect_columns(frame), finess=context["finess"],
                                  crosswalk=context["crosswalk"], on=on,
                                  progress=lambda done, total: step("eligibility", done, total)).rows
                result = prioritise(paths, region, wanted, candidates=rows, config=params, progress=step, on=on,
                                    evaluate_out_of_model=out_of_model)
            written = [write_table(result.picks.round(3), output, labels=labels("priority_picks"), **csv)]
            write_text_atomic(summary_path, json.dumps(_jsonable(result.summary), ensure_ascii=False, indent=2))
            written.append(summary_path)
            if naive:
                written.append(write_table(result.naive.round(3), naive, labels=labels("priority_picks"), **csv))
            if communes:
                written.append(write_table(result.communes.round(4), communes, labels=labels("priority_communes"),
                                           **csv))
            if territories:
                written.append(write_table(result.territories.round(4), territories,
                                           labels=labels("priority_territories"), **csv))
            if out_of_model:
                target = output.with_name(f"{output.stem}_hors_modele.csv")
                written.append(write_table(result.out_of_model.round(4), target, **csv))
        except ZonageError as exc:
            fail_in(ctx, exc)
            return
        s = result.summary
        from zonage.reports import prioritisation_lines

        for line in prioritisation_lines(result, top=top):
            out.print(line, soft_wrap=True, highlight=False, markup=False)
        if s["unmet_minima"]:
            out.print(f"départements sans structure éligible (minimum non tenu) : {s['unmet_minima']}",
                      highlight=False)
        for path in written:
            out.print(f"écrit : {path}", soft_wrap=True, highlight=False)
