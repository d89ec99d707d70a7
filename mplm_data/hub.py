"""Export generated folders as a Hub-ready folder of Parquet files plus README.md, and upload it.

The exported folder contains `data/<config>/<split>-NNNNN.parquet` for every config (one generated
folder, see mplm_data.cards) and split, plus the dataset card as README.md, whose YAML `configs`
point `datasets.load_dataset(folder_or_repo, config)` at those files. Shards are converted one
record batch at a time. Rows wait in a per-split buffer until it reaches `row_group_bytes`, and a
file is closed once it holds `max_file_bytes` (both in uncompressed Arrow bytes), so memory stays
bounded by the buffers whatever the number of shards.

`push` uploads that folder with huggingface_hub (`create_repo(exist_ok=True)`, `upload_folder`)
using the token from HF_TOKEN or a stored login. A missing token, a missing repository, a Hub
rejection and a network failure each raise a one-line MplmDataError.
"""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from mplm_data import __version__
from mplm_data.arrow_io import AtomicArrowWriter
from mplm_data.cards import (ConfigSummary, DatasetFolder, feature_schema, find_datasets,
                             iter_shard_batches, render_card, split_tables, write_text_atomic)
from mplm_data.generators.errors import MplmDataError

logger = logging.getLogger(__name__)

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class ExportLimits:
    """Sizes, in uncompressed Arrow bytes, of one Parquet row group and of one Parquet file."""

    row_group_bytes: int = 64 * 2**20
    max_file_bytes: int = 512 * 2**20

    def __post_init__(self) -> None:
        if not isinstance(self.row_group_bytes, int) or self.row_group_bytes < 1:
            raise ValueError(f"row_group_bytes must be an integer >= 1, "
                             f"got {self.row_group_bytes!r}")
        if not isinstance(self.max_file_bytes, int) or self.max_file_bytes < self.row_group_bytes:
            raise ValueError(f"max_file_bytes must be an integer >= row_group_bytes "
                             f"({self.row_group_bytes}), got {self.max_file_bytes!r}")


class _SplitWriter:
    """The Parquet files of one split of one config, numbered from 00000."""

    def __init__(self, folder: Path, split: str, schema: pa.Schema, provenance: dict[str, Any],
                 limits: ExportLimits):
        self.folder, self.split, self.schema = folder, split, schema
        self.provenance, self.limits = provenance, limits
        self.files: list[Path] = []
        self._buffer: list[pa.Table] = []
        self._buffered_bytes = 0
        self._writer: AtomicArrowWriter | None = None
        self._file_bytes = 0

    def add(self, table: pa.Table) -> None:
        self._buffer.append(table)
        self._buffered_bytes += table.nbytes
        if self._buffered_bytes >= self.limits.row_group_bytes:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        if self._writer is None:
            path = self.folder / f"{self.split}-{len(self.files):05d}.parquet"
            self._writer = AtomicArrowWriter(path, self.schema, provenance=self.provenance)
            self._writer.__enter__()
            self.files.append(path)

        self._writer.write(pa.concat_tables(self._buffer))
        self._file_bytes += self._buffered_bytes
        self._buffer, self._buffered_bytes = [], 0
        if self._file_bytes >= self.limits.max_file_bytes:
            self._close_file()

    def _close_file(self) -> None:
        writer, self._writer, self._file_bytes = self._writer, None, 0
        if writer is not None:
            writer.finalize()

    def close(self) -> None:
        """Write what is buffered and finish the current file."""
        self._flush()
        if self._writer is not None:
            self._close_file()

    def abort(self) -> None:
        """Remove the file being written; finished files stay."""
        if self._writer is not None:
            self._writer.__exit__(None, None, None)
            self._writer = None


def _export_config(dataset: DatasetFolder, out: Path, limits: ExportLimits) -> ConfigSummary:
    """Convert one generated folder into per-split Parquet files and return its summary."""
    manifest = dataset.manifest
    schema = feature_schema(dataset)
    summary = ConfigSummary(dataset, schema)
    provenance = {"config_name": dataset.config, "task": manifest.task, "config": manifest.config,
                  "seed": manifest.seed, "count": manifest.count, "shard_size": manifest.shard_size,
                  "splits": manifest.splits, "generated_with": manifest.version}
    writers: dict[str, _SplitWriter] = {}
    try:
        for batch in iter_shard_batches(dataset):
            for split, table in split_tables(batch):
                summary.add(table, split)
                if split not in writers:
                    writers[split] = _SplitWriter(out / "data" / dataset.config, split, schema,
                                                  provenance, limits)
                writers[split].add(table)
        for writer in writers.values():
            writer.close()
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise

    logger.info("exported %s: %s", dataset.config, summary.split_rows)
    return summary


def export_folder(root: str | Path, out: str | Path, *, repo_id: str | None = None,
                  license: str = "apache-2.0", template: str | Path | None = None,
                  limits: ExportLimits = ExportLimits()) -> list[ConfigSummary]:
    """Write the Hub folder for every generated folder under `root` into `out` (new or empty).

    Returns the summaries that the card in `out/README.md` was built from.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise MplmDataError(f"export folder {out} is not empty; choose a new or empty folder")
    datasets = find_datasets(root)
    out.mkdir(parents=True, exist_ok=True)

    summaries = [_export_config(dataset, out, limits) for dataset in datasets]
    card = render_card(summaries, repo_id=repo_id, license=license, template=template)
    write_text_atomic(out / "README.md", card)
    return summaries


def check_repo_id(repo_id: str) -> None:
    """Raise MplmDataError unless `repo_id` has the form ORG/NAME."""
    if not _REPO_ID.match(repo_id or ""):
        raise MplmDataError(f"repository id {repo_id!r} is invalid; use ORG/NAME, for example "
                            f"my-org/mplm-sudoku")


def push(root: str | Path, repo_id: str, *, private: bool = False, out: str | Path | None = None,
         dry_run: bool = False, license: str = "apache-2.0", template: str | Path | None = None,
         limits: ExportLimits = ExportLimits()) -> str:
    """Export `root` and upload it to the dataset repository `repo_id`.

    With `dry_run`, only writes the folder into `out` and returns its path. Otherwise the folder
    goes to `out` when given (and stays there) or to a temporary folder, and the function returns
    the URL of the upload commit.
    """
    check_repo_id(repo_id)
    if dry_run:
        if out is None:
            raise MplmDataError("--dry-run writes the folder it would upload, so it needs "
                                "--out FOLDER")
        export_folder(root, out, repo_id=repo_id, license=license, template=template, limits=limits)
        return str(out)

    import huggingface_hub

    token = huggingface_hub.get_token()
    if not token:
        raise MplmDataError("no Hugging Face token found; set HF_TOKEN to a token with write "
                            "access, or log in with `hf auth login`")

    if out is not None:
        export_folder(root, out, repo_id=repo_id, license=license, template=template, limits=limits)
        return _upload(Path(out), repo_id, private=private, token=token)
    with tempfile.TemporaryDirectory(prefix="mplm-data-push-") as staging:
        export_folder(root, staging, repo_id=repo_id, license=license, template=template,
                      limits=limits)
        return _upload(Path(staging), repo_id, private=private, token=token)


def _upload(folder: Path, repo_id: str, *, private: bool, token: str) -> str:
    """Create the repository if needed and upload `folder` as one commit."""
    import huggingface_hub
    from huggingface_hub.errors import HfHubHTTPError, HTTPError, RepositoryNotFoundError

    try:
        huggingface_hub.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True,
                                    token=token)
        commit = huggingface_hub.upload_folder(
            repo_id=repo_id, folder_path=folder, repo_type="dataset", token=token,
            commit_message=f"Upload data written by mplm-data {__version__}")
    except RepositoryNotFoundError as err:
        raise MplmDataError(f"dataset repository {repo_id} was not found, or the token cannot "
                            f"access it; check --repo-id and that the token may write to its "
                            f"owner") from err
    except HfHubHTTPError as err:
        status = getattr(err.response, "status_code", "unknown")
        raise MplmDataError(f"the Hub rejected the upload to {repo_id} (HTTP {status}: "
                            f"{err.server_message or err}); check the token's write permission "
                            f"and retry") from err
    except (HTTPError, OSError) as err:
        raise MplmDataError(f"could not reach the Hugging Face Hub to upload {repo_id} "
                            f"({type(err).__name__}: {err}); check the network connection and "
                            f"retry") from err

    logger.info("uploaded %s to %s", folder, repo_id)
    return str(getattr(commit, "commit_url", commit))
