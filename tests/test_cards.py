"""Tests of dataset cards: YAML that yaml.safe_load and huggingface_hub.DatasetCard accept, row
counts and costs taken from the shards, and regeneration code that rebuilds the same bytes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from huggingface_hub import DatasetCard
from typer.testing import CliRunner

from mplm_data.arrow_io import read_table
from mplm_data.cards import find_datasets, render_card, summarize, write_card
from mplm_data.cli.app import app
from mplm_data.generators.errors import MplmDataError
from mplm_data.generators.seeding import item_rng
from mplm_data.shards import MANIFEST_NAME, Manifest, generate
from mplm_data.splits import SplitConfig
from test_shards import RandomRowsTask, folder_bytes

import mplm_data.cli.dataset  # noqa: F401  (registers the card and push commands)

FORMATS = ("mplm", "fj", "cot")
COST_SCHEMA = pa.schema([
    pa.field("instance", pa.large_string(), nullable=False),
    pa.field("format", pa.large_string(), nullable=False),
    pa.field("total_tokens", pa.int64(), nullable=False),
    pa.field("max_context_tokens", pa.int64(), nullable=False),
])


@dataclass(frozen=True)
class TraceCostTask:
    """One row per (item, format) with random token costs, shaped like trace rows."""

    name: str = "trace-costs"
    scale: int = 100

    def schema(self) -> pa.Schema:
        return COST_SCHEMA

    def config(self) -> dict:
        return {"scale": self.scale}

    def rows(self, seed: int, start: int, stop: int) -> pa.Table:
        records = []
        for index in range(start, stop):
            rng = item_rng(seed, index)
            for position, name in enumerate(FORMATS):
                total = int(rng.integers(1, self.scale)) * (position + 1)
                records.append({"instance": f"item-{index}", "format": name, "total_tokens": total,
                                "max_context_tokens": total // (position + 1)})
        return pa.Table.from_pylist(records, schema=COST_SCHEMA)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two generated folders: random rows with splits, and cost rows without."""
    folder = tmp_path_factory.mktemp("datasets")
    generate(RandomRowsTask(), folder / "rows", count=60, seed=2, shard_size=25,
             splits=SplitConfig(0.6, 0.2, 0.2, key="column", column="label"))
    generate(TraceCostTask(), folder / "costs", count=20, seed=9, shard_size=8)
    return folder


@pytest.fixture(scope="module")
def card_text(root: Path) -> str:
    return render_card([summarize(dataset) for dataset in find_datasets(root)], repo_id="org/name")


def front_matter(text: str) -> dict:
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert match is not None
    return yaml.safe_load(match.group(1))


def code_block(text: str, heading: str) -> str:
    match = re.search(rf"### {re.escape(heading)}\n\n```python\n(.*?)```", text, re.S)
    assert match is not None, f"no python block under ### {heading}"
    return match.group(1)


def test_card_yaml_loads_with_safe_load(card_text: str) -> None:
    metadata = front_matter(card_text)

    assert metadata["license"] == "apache-2.0"
    assert metadata["task_categories"] == ["text-generation"]
    assert metadata["size_categories"] == ["n<1K"]
    names = [config["config_name"] for config in metadata["configs"]]
    assert names == ["random-rows", "trace-costs"]


def test_card_accepted_by_datasetcard(card_text: str) -> None:
    card = DatasetCard(card_text)

    assert card.data.license == "apache-2.0"
    assert card.data.configs[1]["data_files"] == [
        {"split": "train", "path": "data/trace-costs/train-*.parquet"}]
    assert "# MPLM reasoning data" in card.text


def test_card_split_counts_match_shards(root: Path, card_text: str) -> None:
    manifest = Manifest.load(root / "rows")
    splits = pa.concat_tables(read_table(root / "rows" / s.file) for s in manifest.shards)["split"]
    info = front_matter(card_text)["dataset_info"][0]

    counted = {name: splits.to_pylist().count(name) for name in ("train", "validation", "test")}
    assert {split["name"]: split["num_examples"] for split in info["splits"]} == counted
    assert sum(counted.values()) == 60


def test_card_features_exclude_split(card_text: str) -> None:
    features = front_matter(card_text)["dataset_info"][0]["features"]

    assert [feature["name"] for feature in features] == ["index", "values", "label"]
    assert features[1] == {"name": "values", "large_list": "int64"}
    assert features[2] == {"name": "label", "dtype": "large_string"}


def test_card_cost_table_values(root: Path, card_text: str) -> None:
    manifest = Manifest.load(root / "costs")
    table = pa.concat_tables(read_table(root / "costs" / s.file) for s in manifest.shards)
    fj = [row for row in table.to_pylist() if row["format"] == "fj"]
    totals = [row["total_tokens"] for row in fj]
    contexts = [row["max_context_tokens"] for row in fj]

    expected = (f"| trace-costs | fj | 20 | {sum(contexts) / 20:.1f} | {max(contexts)} | "
                f"{sum(totals) / 20:.1f} | {max(totals)} |")
    assert "## Costs" in card_text
    assert expected in card_text


def test_card_table_lists_rows_per_split(card_text: str) -> None:
    assert re.search(r"\| trace-costs \| trace-costs \| 9 \| 20 \| 60 \| 0 \| 0 \|", card_text)


def test_card_regenerate_code_rebuilds_bytes(root: Path, card_text: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code_block(card_text, "random-rows"), "card", "exec"), {})

    assert folder_bytes(tmp_path / "random-rows") == folder_bytes(root / "rows")


def test_card_shows_config_when_class_missing(root: Path, tmp_path: Path) -> None:
    generate(RandomRowsTask(), tmp_path / "rows", count=5, seed=0)
    manifest = Manifest.load(tmp_path / "rows")
    manifest.task_class = "no_such_module:Task"
    manifest.save(tmp_path / "rows")
    text = render_card([summarize(find_datasets(tmp_path)[0])])

    assert '```json\n{\n  "delay": 0.0,' in text
    assert "no_such_module:Task" in text


def test_find_datasets_names_duplicate_tasks_by_folder(tmp_path: Path) -> None:
    for name in ("small", "large"):
        generate(RandomRowsTask(), tmp_path / name, count=3, seed=0)

    assert [d.config for d in find_datasets(tmp_path)] == ["random-rows-large", "random-rows-small"]


def test_find_datasets_rejects_incomplete_folder(tmp_path: Path) -> None:
    generate(RandomRowsTask(), tmp_path, count=10, seed=0, shard_size=5)
    manifest = Manifest.load(tmp_path)
    manifest.shards[1] = manifest.shards[1].__class__(**{**manifest.shards[1].__dict__,
                                                         "sha256": None, "rows": None})
    manifest.save(tmp_path)

    with pytest.raises(MplmDataError, match="1 of 2 shards.*--resume"):
        find_datasets(tmp_path)


def test_find_datasets_rejects_folder_without_manifest(tmp_path: Path) -> None:
    with pytest.raises(MplmDataError, match=f"no {MANIFEST_NAME}"):
        find_datasets(tmp_path)


@pytest.mark.parametrize(("count", "category"), [(999, "n<1K"), (1000, "1K<n<10K"),
                                                 (12_000, "10K<n<100K")])
def test_card_size_category(tmp_path: Path, count: int, category: str) -> None:
    generate(RandomRowsTask(width=0), tmp_path, count=count, seed=0, shard_size=5000)
    text = render_card([summarize(find_datasets(tmp_path)[0])])

    assert front_matter(text)["size_categories"] == [category]


def test_card_cli_writes_readme(root: Path, tmp_path: Path) -> None:
    generate(RandomRowsTask(), tmp_path / "one", count=4, seed=0)
    result = CliRunner().invoke(app, ["card", str(tmp_path / "one"), "--license", "cc-by-4.0"])

    assert result.exit_code == 0, result.output
    text = (tmp_path / "one" / "README.md").read_text()
    assert DatasetCard(text).data.license == "cc-by-4.0"


def test_card_cli_error_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["card", str(tmp_path)])

    assert result.exit_code == 2
    assert "error:" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_write_card_template_missing(root: Path, tmp_path: Path) -> None:
    with pytest.raises(MplmDataError, match="was not found"):
        write_card(root / "costs", template=tmp_path / "missing.md")


def test_card_regenerates_sudoku_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sudoku_rows = pytest.importorskip("mplm_data.sudoku_rows")
    generate(sudoku_rows.SudokuPuzzleTask(n=4), tmp_path / "made", count=12, seed=8, shard_size=6,
             splits=SplitConfig())
    text = render_card([summarize(dataset) for dataset in find_datasets(tmp_path / "made")])

    monkeypatch.chdir(tmp_path)
    exec(compile(code_block(text, "sudoku-4x4"), "card", "exec"), {})
    assert folder_bytes(tmp_path / "sudoku-4x4") == folder_bytes(tmp_path / "made")
