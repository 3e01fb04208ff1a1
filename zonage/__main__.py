"""``python -m zonage`` runs the CLI."""

from zonage.cli import app

app(prog_name="zonage")
