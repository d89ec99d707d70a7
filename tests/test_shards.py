"""Tests of the sharded runner: byte-identical output for any worker count or engine, resume after
an interrupted run, folder checks, manifest contents and schema stability."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest

from mplm_data.arrow_io import read_provenance, read_table
from mplm_data.generators.errors import MplmDataError
from mplm_data.generators.seeding import item_rng, item_seed
from mplm_data.shards import MANIFEST_NAME, Manifest, file_sha256, generate, shard_seed
from mplm_data.splits import SplitConfig

TESTS_DIR = Path(__file__).resolve().parent

ROW_SCHEMA = pa.schema([
    pa.field("index", pa.int64(), nullable=False),
    pa.field("values", pa.large_list(pa.int64())),
    pa.field("label", pa.large_string()),
])


@dataclass(frozen=True)
class RandomRowsTask:
    """Rows of random integers; items below `empty_below` get an empty list."""

    name: str = "random-rows"
    width: int = 4
    empty_below: int = 0
    delay: float = 0.0

    def schema(self) -> pa.Schema:
        return ROW_SCHEMA

    def config(self) -> dict:
        return {"width": self.width, "empty_below": self.empty_below, "delay": self.delay}

    def rows(self, seed: int, start: int, stop: int) -> pa.Table:
        values, labels = [], []
        for index in range(start, stop):
            if self.delay:
                time.sleep(self.delay)
            rng = item_rng(seed, index)
            width = 0 if index < self.empty_below else self.width
            values.append(rng.integers(0, 1000, width).tolist())
            labels.append(f"item-{index}-{int(rng.integers(10**6))}")
        return pa.table({"index": list(range(start, stop)), "values": values, "label": labels},
                        schema=ROW_SCHEMA)


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every visible file of a folder, by name."""
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())
            if not path.name.startswith(".")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted single-process run that the other runs are compared with."""
    folder = tmp_path_factory.mktemp("reference")
    generate(RandomRowsTask(), folder, count=53, seed=11, shard_size=10)
    return folder


@pytest.mark.parametrize("workers", [2, 3])
def test_generate_same_bytes_for_any_workers(tmp_path: Path, reference: Path, workers: int) -> None:
    generate(RandomRowsTask(), tmp_path, count=53, seed=11, shard_size=10, workers=workers)

    assert folder_bytes(tmp_path) == folder_bytes(reference)


def test_generate_rows_follow_item_seeds(reference: Path) -> None:
    manifest = Manifest.load(reference)
    table = pa.concat_tables(read_table(reference / shard.file) for shard in manifest.shards)

    assert table.column("index").to_pylist() == list(range(53))
    expected = item_rng(11, 37).integers(0, 1000, 4).tolist()
    assert table.column("values")[37].as_py() == expected


def test_generate_manifest_records_shards(reference: Path) -> None:
    manifest = Manifest.load(reference)

    assert [(s.start, s.stop) for s in manifest.shards] == [(0, 10), (10, 20), (20, 30), (30, 40),
                                                            (40, 50), (50, 53)]
    assert [s.rows for s in manifest.shards] == [10, 10, 10, 10, 10, 3]
    assert all(s.sha256 == file_sha256(reference / s.file) for s in manifest.shards)
    assert manifest.complete
    assert manifest.task == "random-rows"
    assert (manifest.seed, manifest.count, manifest.shard_size) == (11, 53, 10)
    assert manifest.config == RandomRowsTask().config()


def test_generate_shard_seeds_distinct_from_item_seeds(reference: Path) -> None:
    manifest = Manifest.load(reference)
    seeds = [shard.seed for shard in manifest.shards]

    assert seeds == [shard_seed(11, index) for index in range(len(seeds))]
    assert len(set(seeds)) == len(seeds)
    assert not set(seeds) & {item_seed(11, index) for index in range(53)}


def test_generate_provenance_in_schema(reference: Path) -> None:
    provenance = read_provenance(reference / "shard-00002.arrow")

    assert provenance["task"] == "random-rows"
    assert (provenance["shard"], provenance["start"], provenance["stop"]) == (2, 20, 30)
    assert provenance["shard_seed"] == shard_seed(11, 2)
    assert provenance["config"] == RandomRowsTask().config()


@pytest.mark.parametrize("shard_size", [1, 7, 100])
def test_generate_progress_sums_to_count(tmp_path: Path, shard_size: int) -> None:
    deltas: list[int] = []
    generate(RandomRowsTask(), tmp_path, count=23, seed=0, shard_size=shard_size,
             progress=deltas.append)

    assert sum(deltas) == 23
    assert len(deltas) == -(-23 // shard_size)


def test_generate_early_empty_lists_keep_schema(tmp_path: Path) -> None:
    task = RandomRowsTask(empty_below=12)
    generate(task, tmp_path, count=30, seed=5, shard_size=10)

    first = read_table(tmp_path / "shard-00000.arrow")
    assert first.column("values").to_pylist() == [[]] * 10
    for name in ("shard-00000.arrow", "shard-00001.arrow", "shard-00002.arrow"):
        assert read_table(tmp_path / name).schema.equals(ROW_SCHEMA, check_metadata=False)


def test_generate_shards_load_with_datasets(reference: Path) -> None:
    datasets = pytest.importorskip("datasets")
    files = sorted(str(path) for path in reference.glob("shard-*.arrow"))

    single = datasets.Dataset.from_file(files[0])
    loaded = datasets.load_dataset("arrow", data_files=files, split="train")

    assert single.num_rows == 10
    assert loaded.num_rows == 53
    assert loaded.features["values"].feature.dtype == "int64"
    assert sorted(loaded["index"]) == list(range(53))


def test_generate_resume_rewrites_only_bad_shards(tmp_path: Path, reference: Path) -> None:
    generate(RandomRowsTask(), tmp_path, count=53, seed=11, shard_size=10)
    inodes = {path.name: path.stat().st_ino for path in tmp_path.glob("shard-*.arrow")}
    corrupt = tmp_path / "shard-00001.arrow"
    corrupt.write_bytes(corrupt.read_bytes()[:-8] + b"\0" * 8)
    (tmp_path / "shard-00004.arrow").unlink()

    generate(RandomRowsTask(), tmp_path, count=53, seed=11, shard_size=10, resume=True)

    assert folder_bytes(tmp_path) == folder_bytes(reference)
    kept = {path.name for path in tmp_path.glob("shard-*.arrow")
            if path.stat().st_ino == inodes.get(path.name)}
    assert kept == {"shard-00000.arrow", "shard-00002.arrow", "shard-00003.arrow",
                    "shard-00005.arrow"}


def test_generate_rejects_existing_without_resume(tmp_path: Path) -> None:
    generate(RandomRowsTask(), tmp_path, count=5, seed=1, shard_size=5)

    with pytest.raises(MplmDataError, match="--resume"):
        generate(RandomRowsTask(), tmp_path, count=5, seed=1, shard_size=5)


@pytest.mark.parametrize("resume", [False, True])
@pytest.mark.parametrize("change", [{"seed": 2}, {"count": 6}, {"shard_size": 2}])
def test_generate_rejects_different_config(tmp_path: Path, change: dict, resume: bool) -> None:
    settings = {"count": 5, "seed": 1, "shard_size": 5}
    generate(RandomRowsTask(), tmp_path, **settings)

    with pytest.raises(MplmDataError, match=f"different config.*{next(iter(change))}"):
        generate(RandomRowsTask(), tmp_path, **{**settings, **change}, resume=resume)


def test_generate_rejects_different_task_config(tmp_path: Path) -> None:
    generate(RandomRowsTask(), tmp_path, count=5, seed=1, shard_size=5)

    with pytest.raises(MplmDataError, match="width"):
        generate(RandomRowsTask(width=2), tmp_path, count=5, seed=1, shard_size=5, resume=True)


def test_generate_rejects_folder_without_manifest(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("unrelated")

    with pytest.raises(MplmDataError, match="choose an empty or new folder"):
        generate(RandomRowsTask(), tmp_path, count=5, seed=1, resume=True)


def test_generate_rejects_concurrent_run(tmp_path: Path) -> None:
    with open(tmp_path / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)

        with pytest.raises(MplmDataError, match="another run"):
            generate(RandomRowsTask(), tmp_path, count=5, seed=1)


@pytest.mark.parametrize("arguments", [
    {"count": 0}, {"seed": -1}, {"shard_size": 0}, {"workers": 0}, {"engine": "spark"},
    {"count": 2.5},
])
def test_generate_rejects_invalid_arguments(tmp_path: Path, arguments: dict) -> None:
    settings = {"count": 5, "seed": 0, **arguments}

    with pytest.raises(MplmDataError, match=next(iter(arguments))):
        generate(RandomRowsTask(), tmp_path, **settings)


def test_generate_split_column_and_manifest(tmp_path: Path) -> None:
    splits = SplitConfig(0.5, 0.25, 0.25, key="column", column="label")
    manifest = generate(RandomRowsTask(), tmp_path, count=40, seed=3, shard_size=20, splits=splits)
    table = read_table(tmp_path / "shard-00000.arrow")

    assert manifest.splits == splits.to_dict()
    assert Manifest.load(tmp_path).splits == splits.to_dict()
    assert table.schema.field("split").type == pa.large_string()
    assert set(table.column("split").to_pylist()) <= {"train", "validation", "test"}


def test_generate_ray_missing_names_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)

    with pytest.raises(MplmDataError, match=r"pip install 'mplm-data\[ray\]'"):
        generate(RandomRowsTask(), tmp_path, count=5, seed=0, engine="ray")


@pytest.mark.slow
def test_generate_ray_same_bytes(tmp_path: Path, reference: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    ray = pytest.importorskip("ray")
    # Ray workers unpickle the task by module name, so they need this folder on their path.
    python_path = os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", python_path)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        generate(RandomRowsTask(), tmp_path, count=53, seed=11, shard_size=10, engine="ray")
    finally:
        ray.shutdown()

    assert folder_bytes(tmp_path) == folder_bytes(reference)


INTERRUPTED_RUN = """
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from test_shards import RandomRowsTask
from mplm_data.shards import generate
generate(RandomRowsTask(delay={delay}), Path({out!r}), count=60, seed=4, shard_size=5,
         workers={workers})
"""


@pytest.mark.slow
@pytest.mark.parametrize(("stop_signal", "workers"), [(signal.SIGINT, 1), (signal.SIGKILL, 1),
                                                      (signal.SIGINT, 2)])
def test_generate_resume_after_interrupt_equals_full_run(tmp_path: Path, stop_signal: int,
                                                          workers: int) -> None:
    task = RandomRowsTask(delay=0.02)
    interrupted, full = tmp_path / "interrupted", tmp_path / "full"
    script = INTERRUPTED_RUN.format(tests=str(TESTS_DIR), delay=task.delay, out=str(interrupted),
                                    workers=workers)
    process = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (interrupted / "shard-00000.arrow").exists():
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "the first shard never appeared"
        time.sleep(0.01)
    process.send_signal(stop_signal)
    process.communicate(timeout=120)

    manifest = Manifest.load(interrupted)
    shard_files = sorted(path.name for path in interrupted.glob("shard-*.arrow"))
    assert not manifest.complete
    assert len(shard_files) < 12
    for name in shard_files:
        assert read_table(interrupted / name).num_rows == 5
    if stop_signal == signal.SIGINT:
        assert not list(interrupted.glob(".*.tmp-*"))

    generate(task, interrupted, count=60, seed=4, shard_size=5, workers=workers, resume=True)
    generate(task, full, count=60, seed=4, shard_size=5)

    assert not list(interrupted.glob(".*.tmp-*"))
    assert folder_bytes(interrupted) == folder_bytes(full)
    assert Manifest.load(interrupted).complete


@pytest.mark.slow
def test_generate_sudoku_task_same_bytes_with_splits(tmp_path: Path) -> None:
    sudoku_rows = pytest.importorskip("mplm_data.sudoku_rows")
    task = sudoku_rows.SudokuPuzzleTask(n=4)
    splits = SplitConfig(0.5, 0.25, 0.25)
    generate(task, tmp_path / "one", count=24, seed=5, shard_size=8, splits=splits)
    generate(task, tmp_path / "two", count=24, seed=5, shard_size=8, splits=splits, workers=2)

    assert folder_bytes(tmp_path / "one") == folder_bytes(tmp_path / "two")
    manifest = Manifest.load(tmp_path / "one")
    table = pa.concat_tables(read_table(tmp_path / "one" / s.file) for s in manifest.shards)
    assert table.column("index").to_pylist() == list(range(24))
    assert set(table.column("split").to_pylist()) <= {"train", "validation", "test"}
