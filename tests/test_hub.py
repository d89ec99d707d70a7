"""Tests of the Hub export and upload: the exported folder loads with datasets as the Hub would
resolve it, Parquet files roll over at the size limits, and every upload failure becomes one
clear line. huggingface_hub is monkeypatched in every upload test, so no test contacts a host."""

from __future__ import annotations

from pathlib import Path

import httpx2
import huggingface_hub
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from typer.testing import CliRunner

from mplm_data.arrow_io import read_provenance, read_table
from mplm_data.cli.app import app
from mplm_data.generators.errors import MplmDataError
from mplm_data.hub import ExportLimits, export_folder, push
from mplm_data.shards import Manifest, generate
from mplm_data.splits import SplitConfig
from test_cards import TraceCostTask
from test_shards import ROW_SCHEMA, RandomRowsTask

import mplm_data.cli.dataset  # noqa: F401  (registers the card and push commands)

datasets = pytest.importorskip("datasets")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("generated")
    generate(RandomRowsTask(empty_below=30), folder / "rows", count=90, seed=4, shard_size=20,
             splits=SplitConfig(0.5, 0.25, 0.25, key="column", column="label"))
    generate(TraceCostTask(), folder / "costs", count=12, seed=1, shard_size=5)
    return folder


@pytest.fixture(scope="module")
def exported(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hub") / "folder"
    export_folder(root, out, repo_id="org/name", limits=ExportLimits(row_group_bytes=600,
                                                                     max_file_bytes=1500))
    return out


def generated_rows(folder: Path) -> pa.Table:
    manifest = Manifest.load(folder)
    return pa.concat_tables(read_table(folder / shard.file) for shard in manifest.shards)


def test_export_loads_with_load_dataset(root: Path, exported: Path) -> None:
    loaded = datasets.load_dataset(str(exported), "random-rows")
    source = generated_rows(root / "rows").to_pylist()

    for split in ("train", "validation", "test"):
        expected = [{k: v for k, v in row.items() if k != "split"} for row in source
                    if row["split"] == split]
        assert loaded[split].to_list() == expected


def test_export_keeps_large_types(exported: Path) -> None:
    loaded = datasets.load_dataset(str(exported), "random-rows", split="train")

    assert loaded.features["label"].dtype == "large_string"
    assert loaded.data.schema.field("values").type == pa.large_list(pa.int64())


def test_export_config_without_split_column_is_train(root: Path, exported: Path) -> None:
    loaded = datasets.load_dataset(str(exported), "trace-costs")

    assert list(loaded) == ["train"]
    assert loaded["train"].to_list() == generated_rows(root / "costs").to_pylist()


def test_export_buffers_outlive_shard_maps(root: Path, tmp_path: Path) -> None:
    # One row group spans every shard, so rows read from closed memory maps are written last.
    export_folder(root / "costs", tmp_path / "out", limits=ExportLimits(row_group_bytes=2**30,
                                                                        max_file_bytes=2**30))
    written = pq.read_table(tmp_path / "out" / "data" / "trace-costs" / "train-00000.parquet")

    assert written.to_pylist() == generated_rows(root / "costs").to_pylist()


def test_export_file_layout_rolls_over(exported: Path) -> None:
    files = sorted(path.relative_to(exported).as_posix() for path in exported.rglob("*.parquet"))
    train = [name for name in files if name.startswith("data/random-rows/train-")]

    assert len(train) > 1
    assert train == [f"data/random-rows/train-{i:05d}.parquet" for i in range(len(train))]
    assert all(name.split("/")[1] in {"random-rows", "trace-costs"} for name in files)
    assert not list(exported.rglob(".*"))


def test_export_row_groups_follow_limit(exported: Path) -> None:
    metadata = pq.ParquetFile(exported / "data" / "random-rows" / "train-00000.parquet").metadata

    assert metadata.num_row_groups >= 2


def test_export_parquet_has_provenance(exported: Path) -> None:
    provenance = read_provenance(exported / "data" / "trace-costs" / "train-00000.parquet")

    assert provenance["task"] == "trace-costs"
    assert provenance["seed"] == 1
    assert provenance["config"] == TraceCostTask().config()


def test_export_parquet_loads_with_data_files(exported: Path) -> None:
    files = sorted(str(path) for path in (exported / "data" / "random-rows").glob("test-*.parquet"))
    loaded = datasets.load_dataset("parquet", data_files=files, split="train")

    assert loaded.num_rows == sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    assert loaded.features["values"].feature.dtype == "int64"


def test_export_early_empty_lists_keep_schema(exported: Path) -> None:
    for path in (exported / "data" / "random-rows").glob("*.parquet"):
        schema = pq.read_schema(path)
        assert schema.field("values").type == ROW_SCHEMA.field("values").type


def test_export_rejects_nonempty_folder(root: Path, tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("x")

    with pytest.raises(MplmDataError, match="not empty"):
        export_folder(root, tmp_path)


def test_export_rejects_corrupt_shard(tmp_path: Path) -> None:
    generate(RandomRowsTask(), tmp_path / "rows", count=10, seed=0, shard_size=5)
    shard = tmp_path / "rows" / "shard-00001.arrow"
    shard.write_bytes(shard.read_bytes()[:-4] + b"\1\1\1\1")

    with pytest.raises(MplmDataError, match="checksum"):
        export_folder(tmp_path / "rows", tmp_path / "out")
    assert not list((tmp_path / "out").rglob("*.parquet"))


@pytest.mark.parametrize("limits", [{"row_group_bytes": 0},
                                    {"max_file_bytes": 10, "row_group_bytes": 20}])
def test_export_limits_reject_bad_sizes(limits: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(limits))):
        ExportLimits(**limits)


def test_push_dry_run_cli_writes_folder(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "dry"
    result = CliRunner().invoke(app, ["push", str(root), "--repo-id", "org/name", "--dry-run",
                                      "--out", str(out)])

    assert result.exit_code == 0, result.output
    card = (out / "README.md").read_text()
    assert 'load_dataset("org/name", "random-rows")' in card
    assert datasets.load_dataset(str(out), "trace-costs")["train"].num_rows == 36


def test_push_dry_run_needs_out(root: Path) -> None:
    with pytest.raises(MplmDataError, match="--out"):
        push(root, "org/name", dry_run=True)


@pytest.mark.parametrize("repo_id", ["name", "org/", "/name", "org/name/extra", "org name/x"])
def test_push_rejects_bad_repo_id(root: Path, repo_id: str) -> None:
    with pytest.raises(MplmDataError, match="ORG/NAME"):
        push(root, repo_id, dry_run=True)


class FakeHub:
    """Stand-in for create_repo and upload_folder that records calls and raises `failure` from the
    method named `failing`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, failing: str = "",
                 failure: Exception | None = None):
        self.calls: list[tuple[str, dict]] = []
        self.uploaded: list[str] = []
        self.failing, self.failure = failing, failure
        monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_test_token")
        monkeypatch.setattr(huggingface_hub, "create_repo", self.create_repo)
        monkeypatch.setattr(huggingface_hub, "upload_folder", self.upload_folder)

    def _maybe_fail(self, name: str) -> None:
        if self.failing == name and self.failure is not None:
            raise self.failure

    def create_repo(self, repo_id: str, **kwargs) -> str:
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        self._maybe_fail("create_repo")
        return f"https://hub.invalid/datasets/{repo_id}"

    def upload_folder(self, **kwargs) -> str:
        self.calls.append(("upload_folder", kwargs))
        self.uploaded = sorted(p.relative_to(kwargs["folder_path"]).as_posix()
                               for p in Path(kwargs["folder_path"]).rglob("*") if p.is_file())
        self._maybe_fail("upload_folder")
        return f"https://hub.invalid/datasets/{kwargs['repo_id']}/commit/1"


def http_response(status: int) -> httpx2.Response:
    return httpx2.Response(status, request=httpx2.Request("POST", "https://hub.invalid/api/repos"))


def test_push_uploads_exported_folder(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = FakeHub(monkeypatch)
    url = push(root, "org/name", private=True)

    assert url == "https://hub.invalid/datasets/org/name/commit/1"
    assert [name for name, _ in hub.calls] == ["create_repo", "upload_folder"]
    create = hub.calls[0][1]
    assert (create["repo_type"], create["private"], create["exist_ok"]) == ("dataset", True, True)
    assert create["token"] == "hf_test_token"
    assert hub.calls[1][1]["repo_type"] == "dataset"
    assert "README.md" in hub.uploaded
    assert "data/random-rows/validation-00000.parquet" in hub.uploaded


def test_push_cli_missing_token(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = FakeHub(monkeypatch)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    result = CliRunner().invoke(app, ["push", str(root), "--repo-id", "org/name"])

    assert result.exit_code == 2
    assert "no Hugging Face token found; set HF_TOKEN" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert hub.calls == []


@pytest.mark.parametrize(("failing", "failure", "message"), [
    ("create_repo", RepositoryNotFoundError("404 not found", response=http_response(404)),
     "dataset repository org/name was not found"),
    ("upload_folder", HfHubHTTPError("403 forbidden", response=http_response(403)),
     "the Hub rejected the upload to org/name (HTTP 403"),
    ("create_repo", httpx2.ConnectError("connection refused"),
     "could not reach the Hugging Face Hub"),
    ("upload_folder", ConnectionResetError("reset by peer"),
     "could not reach the Hugging Face Hub"),
])
def test_push_cli_failure_is_one_line(root: Path, monkeypatch: pytest.MonkeyPatch, failing: str,
                                      failure: Exception, message: str) -> None:
    FakeHub(monkeypatch, failing, failure)
    result = CliRunner().invoke(app, ["push", str(root), "--repo-id", "org/name"])

    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_push_keeps_out_folder_after_upload(root: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    FakeHub(monkeypatch)
    push(root, "org/name", out=tmp_path / "staged")

    assert (tmp_path / "staged" / "README.md").is_file()
    assert datasets.load_dataset(str(tmp_path / "staged"), "random-rows")["test"].num_rows > 0


@pytest.mark.slow
def test_export_sudoku_splits_share_no_instance(tmp_path: Path) -> None:
    sudoku_rows = pytest.importorskip("mplm_data.sudoku_rows")
    from mplm_data.generators.sudoku_geometry import Geometry, text_to_grid
    from mplm_data.symmetry import equivalent_brute_force

    generate(sudoku_rows.SudokuPuzzleTask(n=4), tmp_path / "sudoku", count=40, seed=3,
             shard_size=20, splits=SplitConfig(0.5, 0.25, 0.25))
    export_folder(tmp_path / "sudoku", tmp_path / "hub")
    loaded = datasets.load_dataset(str(tmp_path / "hub"), "sudoku-4x4")
    geometry = Geometry.for_size(4)
    grids = {split: [text_to_grid(text, geometry) for text in loaded[split]["puzzle"]]
             for split in loaded}

    assert sum(len(split) for split in grids.values()) == 40
    names = sorted(grids)
    for position, first in enumerate(names):
        for second in names[position + 1:]:
            for a in grids[first]:
                for b in grids[second]:
                    assert not equivalent_brute_force(a, b, geometry)
