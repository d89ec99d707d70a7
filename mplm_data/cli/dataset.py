"""Commands `mplm-data card` and `mplm-data push`: dataset cards and Hub uploads.

Both take DIR, a folder written by an `mplm-data gen` command (it contains manifest.json) or a
folder of such folders. Each generated folder becomes one config of the dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from mplm_data.cli.app import app, fail
from mplm_data.generators.errors import MplmDataError

stdout = Console()
stderr = Console(stderr=True)

_ROOT_HELP = "Generated folder (with manifest.json), or a folder of generated folders."
_LICENSE_HELP = "License identifier written to the card metadata, such as apache-2.0 or cc-by-4.0."
_TEMPLATE_HELP = "Card body template with $-placeholders; default cards/dataset_card.md."


@app.command("card")
def card(
    root: Path = typer.Argument(..., metavar="DIR", help=_ROOT_HELP, exists=True,
                               file_okay=False),
    repo_id: Optional[str] = typer.Option(
        None, "--repo-id", help="Hub repository ORG/NAME used in the card's loading example."),
    license: str = typer.Option("apache-2.0", help=_LICENSE_HELP),
    template: Optional[Path] = typer.Option(None, help=_TEMPLATE_HELP, exists=True, dir_okay=False),
) -> None:
    """Write DIR/README.md: a dataset card with Hub YAML metadata, built from the manifests."""
    from mplm_data.cards import write_card

    try:
        with stderr.status("reading shards"):
            path = write_card(root, repo_id=repo_id, license=license, template=template)
    except MplmDataError as err:
        fail(str(err))
    stdout.print(f"wrote {path}")


@app.command("push")
def push(
    root: Path = typer.Argument(..., metavar="DIR", help=_ROOT_HELP, exists=True,
                               file_okay=False),
    repo_id: str = typer.Option(..., "--repo-id", help="Hub dataset repository, ORG/NAME."),
    private: bool = typer.Option(False, help="Create the repository as private (when it is new)."),
    dry_run: bool = typer.Option(
        False, help="Write the folder that would be uploaded into --out, and upload nothing."),
    out: Optional[Path] = typer.Option(
        None, help="Folder for the Parquet files and README.md; must be new or empty. Required "
                   "with --dry-run; without it, a temporary folder is used."),
    license: str = typer.Option("apache-2.0", help=_LICENSE_HELP),
    template: Optional[Path] = typer.Option(None, help=_TEMPLATE_HELP, exists=True, dir_okay=False),
    max_file_mb: int = typer.Option(
        512, min=1,
        help="Start a new Parquet file after this many MiB of uncompressed Arrow data."),
    row_group_mb: int = typer.Option(
        64, min=1, help="MiB of uncompressed Arrow data per Parquet row group."),
) -> None:
    """Convert DIR to Parquet under data/<config>/<split>-NNNNN.parquet with a card, and upload it.

    The upload uses the token in HF_TOKEN, or the one stored by `hf auth login`.
    """
    from mplm_data.hub import ExportLimits, push as push_folder

    try:
        limits = ExportLimits(row_group_bytes=row_group_mb * 2**20,
                              max_file_bytes=max_file_mb * 2**20)
    except ValueError as err:
        fail(f"invalid option: {err}")

    try:
        with stderr.status("exporting" if dry_run else "exporting and uploading"):
            target = push_folder(root, repo_id, private=private, out=out, dry_run=dry_run,
                                 license=license, template=template, limits=limits)
    except MplmDataError as err:
        fail(str(err))
    stdout.print(f"wrote {target}" if dry_run else f"uploaded {root} to {target}")
