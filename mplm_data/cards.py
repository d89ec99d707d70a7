"""Dataset cards: a README.md with Hugging Face Hub YAML metadata, built from generated folders.

A *dataset root* is either one generated folder (it contains manifest.json) or a folder whose
subfolders are generated folders. Each generated folder becomes one *config* of the card, named
after its task (`sudoku-9x9`, `sat-20`), with the folder name appended when two folders share a
task name.

The card describes the layout that `mplm-data push` uploads: `data/<config>/<split>-NNNNN.parquet`.
Its YAML lists, per config, the data files of each split, the features (from the Arrow schema,
without the `split` column) and the row count of each split, plus license, task_categories,
size_categories and tags. The body comes from the template cards/dataset_card.md (placeholders in
`string.Template` form) and adds a row-count table, the code that regenerates each config from its
manifest and, when the rows have cost columns, a cost table per trace format.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
from huggingface_hub import DatasetCardData

from mplm_data import __version__
from mplm_data.generators.errors import MplmDataError
from mplm_data.shards import MANIFEST_NAME, Manifest, file_sha256
from mplm_data.splits import SPLIT_FIELD, SPLIT_NAMES

# The repository's cards/ folder installs as the package `mplm_data.card_templates`.
TEMPLATE_PATH = Path(str(files("mplm_data.card_templates").joinpath("dataset_card.md")))
COST_COLUMNS = ("threads", "messages", "max_context_tokens", "mean_context_tokens", "total_tokens",
                "critical_path_steps")
# Upper bounds (exclusive) of the Hub's size_categories values.
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                   (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"),
                   (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"))


@dataclass(frozen=True)
class DatasetFolder:
    """One generated folder and the config name it gets in the card."""

    config: str
    path: Path
    manifest: Manifest


@dataclass
class CostStats:
    """Running count, sum and maximum of one cost column."""

    rows: int = 0
    total: float = 0.0
    maximum: float = -math.inf

    @property
    def mean(self) -> float:
        """Mean over the rows seen (NaN when there were none)."""
        return self.total / self.rows if self.rows else math.nan


@dataclass
class ConfigSummary:
    """Summary of one config for its card: schema, rows and bytes per split, cost statistics."""

    folder: DatasetFolder
    schema: pa.Schema
    split_rows: dict[str, int] = field(default_factory=dict)
    split_bytes: dict[str, int] = field(default_factory=dict)
    costs: dict[tuple[str, str], CostStats] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Config name."""
        return self.folder.config

    def add(self, table: pa.Table, split: str) -> None:
        """Count the rows and Arrow bytes of `table` (all of one split) and fold in its costs."""
        self.split_rows[split] = self.split_rows.get(split, 0) + table.num_rows
        self.split_bytes[split] = self.split_bytes.get(split, 0) + table.nbytes
        columns = [name for name in COST_COLUMNS if name in table.column_names]
        if not columns or table.num_rows == 0:
            return

        if "format" in table.column_names:
            formats = table.column("format")
            names = sorted(set(formats.to_pylist()))
            groups = {name: table.filter(pc.equal(formats, name)) for name in names}
        else:
            groups = {"all": table}

        for group, rows in groups.items():
            for column in columns:
                values = rows.column(column).drop_null()
                if len(values) == 0:
                    continue
                stats = self.costs.setdefault((group, column), CostStats())
                stats.rows += len(values)
                stats.total += float(pc.sum(values).as_py())
                stats.maximum = max(stats.maximum, float(pc.max(values).as_py()))


def find_datasets(root: str | Path) -> list[DatasetFolder]:
    """List the generated folders under `root` (itself, or its subfolders with a manifest),
    sorted by config name.

    Raises MplmDataError when there is none, or when a folder's generation is incomplete.
    """
    root = Path(root)
    if (root / MANIFEST_NAME).is_file():
        folders = [root]
    else:
        folders = sorted(path.parent for path in root.glob(f"*/{MANIFEST_NAME}"))
    if not folders:
        raise MplmDataError(f"{root} contains no {MANIFEST_NAME}, neither directly nor in a "
                            f"subfolder; pass a folder written by an `mplm-data gen` command")

    manifests = [Manifest.load(folder) for folder in folders]
    for folder, manifest in zip(folders, manifests):
        if not manifest.complete:
            done = sum(shard.done for shard in manifest.shards)
            raise MplmDataError(f"{folder} is incomplete ({done} of {len(manifest.shards)} "
                                f"shards); finish it by rerunning its gen command with --resume")

    tasks = [manifest.task for manifest in manifests]
    found = [DatasetFolder(task if tasks.count(task) == 1 else f"{task}-{folder.name}", folder,
                           manifest)
             for folder, manifest, task in zip(folders, manifests, tasks)]
    return sorted(found, key=lambda dataset: dataset.config)


def iter_shard_batches(dataset: DatasetFolder) -> Iterator[pa.RecordBatch]:
    """Yield the record batches of every shard in order, after checking each shard's checksum."""
    for shard in dataset.manifest.shards:
        path = dataset.path / shard.file
        if not path.is_file() or file_sha256(path) != shard.sha256:
            raise MplmDataError(f"shard {path} is missing or does not match the checksum in its "
                                f"manifest; rerun its gen command with --resume to rewrite it")
        with pa.memory_map(str(path)) as source:
            yield from ipc.open_stream(source)


def split_tables(batch: pa.RecordBatch) -> Iterator[tuple[str, pa.Table]]:
    """Split a batch by its `split` column (all rows are `train` without one), dropping it."""
    table = pa.Table.from_batches([batch]).replace_schema_metadata(None)
    if SPLIT_FIELD.name not in table.column_names:
        yield "train", table
        return

    column = table.column(SPLIT_FIELD.name)
    rest = table.drop_columns([SPLIT_FIELD.name])
    for name in SPLIT_NAMES:
        part = rest.filter(pc.equal(column, name))
        if part.num_rows:
            yield name, part


def feature_schema(dataset: DatasetFolder) -> pa.Schema:
    """Row schema of a generated folder without the `split` column and metadata."""
    with pa.memory_map(str(dataset.path / dataset.manifest.shards[0].file)) as source:
        schema = ipc.open_stream(source).schema.remove_metadata()
    if SPLIT_FIELD.name in schema.names:
        schema = schema.remove(schema.get_field_index(SPLIT_FIELD.name))
    return schema


def summarize(dataset: DatasetFolder) -> ConfigSummary:
    """Read every shard of a generated folder once and return its summary."""
    summary = ConfigSummary(dataset, feature_schema(dataset))
    for batch in iter_shard_batches(dataset):
        for split, table in split_tables(batch):
            summary.add(table, split)
    return summary


def _size_category(rows: int) -> str:
    for bound, label in SIZE_CATEGORIES:
        if rows < bound:
            return label
    return "n>1B"


def card_metadata(summaries: list[ConfigSummary], *, license: str) -> DatasetCardData:
    """Build the YAML metadata: configs with data files per split, features, splits and labels."""
    import datasets

    configs, infos = [], []
    for summary in summaries:
        splits = [name for name in SPLIT_NAMES if summary.split_rows.get(name)]
        configs.append({"config_name": summary.name, "data_files": [
            {"split": name, "path": f"data/{summary.name}/{name}-*.parquet"} for name in splits]})
        # datasets' own conversion of features to card YAML (DatasetInfo._to_yaml_dict calls it).
        features = datasets.Features.from_arrow_schema(summary.schema)._to_yaml_list()
        infos.append({"config_name": summary.name, "features": features,
                      "splits": [{"name": name, "num_bytes": summary.split_bytes[name],
                                  "num_examples": summary.split_rows[name]} for name in splits],
                      "dataset_size": sum(summary.split_bytes.values())})

    total = sum(sum(summary.split_rows.values()) for summary in summaries)
    tags = sorted({"synthetic", "reasoning", "message-passing"}
                  | {summary.folder.manifest.task.split("-")[0] for summary in summaries})
    return DatasetCardData(license=license, task_categories=["text-generation"],
                           size_categories=[_size_category(total)], tags=tags,
                           pretty_name="MPLM reasoning data", configs=configs, dataset_info=infos)


def _configs_table(summaries: list[ConfigSummary]) -> str:
    lines = ["| config | task | seed | items | train | validation | test |",
             "|---|---|---|---|---|---|---|"]
    for summary in summaries:
        manifest = summary.folder.manifest
        counts = [str(summary.split_rows.get(name, 0)) for name in SPLIT_NAMES]
        lines.append(f"| {summary.name} | {manifest.task} | {manifest.seed} | {manifest.count} | "
                     + " | ".join(counts) + " |")
    return "\n".join(lines)


def _task_call(manifest: Manifest) -> str | None:
    """Return `Class(field=value, ...)` when the recorded class rebuilds the config, else None.

    Config entries that are not constructor fields (a generator version, say) are left out of the
    call, and the rebuilt task must report the recorded config exactly.
    """
    if not manifest.task_class:
        return None
    module_name, _, class_name = manifest.task_class.partition(":")
    try:
        task_type = getattr(importlib.import_module(module_name), class_name)
        init_fields = {item.name for item in dataclasses.fields(task_type) if item.init}
        arguments = {key: value for key, value in manifest.config.items() if key in init_fields}
        rebuilt = task_type(**arguments).config()
    except (ImportError, AttributeError, TypeError, ValueError):
        return None
    if json.loads(json.dumps(rebuilt)) != manifest.config:
        return None
    listed = ", ".join(f"{key}={value!r}" for key, value in arguments.items())
    return f"{class_name}({listed})"


def _regenerate_section(summary: ConfigSummary) -> str:
    """Return Markdown with the code that rebuilds one config, or its settings when none can."""
    manifest = summary.folder.manifest
    call = _task_call(manifest)
    if call is None:
        config = json.dumps(manifest.config, indent=2, sort_keys=True)
        return (f"### {summary.name}\n\nTask `{manifest.task}` ({manifest.task_class}), seed "
                f"{manifest.seed}, {manifest.count} items in shards of {manifest.shard_size}, "
                f"split settings {manifest.splits}, with this task config:\n\n"
                f"```json\n{config}\n```")

    module_name, _, class_name = manifest.task_class.partition(":")
    imports = [f"from {module_name} import {class_name}", "from mplm_data.shards import generate"]
    arguments = [call, repr(summary.name),
                 f"count={manifest.count}, seed={manifest.seed}, shard_size={manifest.shard_size}"]
    if manifest.splits is not None:
        imports.append("from mplm_data.splits import SplitConfig")
        fields = ", ".join(f"{key}={value!r}" for key, value in manifest.splits.items())
        arguments.append(f"splits=SplitConfig({fields})")

    code = "\n".join(sorted(imports)) + "\n\ngenerate(" + ",\n         ".join(arguments) + ")"
    return f"### {summary.name}\n\n```python\n{code}\n```"


def _costs_section(summaries: list[ConfigSummary]) -> str:
    """Return a Markdown table of cost means and maxima per config and format, or "" if none."""
    present = {column for summary in summaries for _, column in summary.costs}
    columns = [name for name in COST_COLUMNS if name in present]
    if not columns:
        return ""

    header = "| config | format | rows | " + " | ".join(f"{c} mean | {c} max" for c in columns)
    lines = ["## Costs", "",
             "Per-trace costs in tokens of the tokenizer recorded in the rows; "
             "critical_path_steps counts lockstep steps.", "",
             header + " |", "|" + "---|" * (3 + 2 * len(columns))]
    for summary in summaries:
        for group in sorted({group for group, _ in summary.costs}):
            stats = [summary.costs.get((group, column)) for column in columns]
            rows = max(s.rows for s in stats if s is not None)
            cells = [f"{s.mean:.1f} | {s.maximum:.0f}" if s else "- | -" for s in stats]
            lines.append(f"| {summary.name} | {group} | {rows} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_card(summaries: list[ConfigSummary], *, repo_id: str | None = None,
                license: str = "apache-2.0", template: str | Path | None = None) -> str:
    """Return the full README.md text: YAML front matter, then the filled template."""
    if not summaries:
        raise MplmDataError("a dataset card needs at least one generated folder")
    template_path = Path(template) if template is not None else TEMPLATE_PATH
    try:
        body = Template(template_path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise MplmDataError(f"card template {template_path} was not found; pass --template with "
                            f"the path of cards/dataset_card.md") from err

    metadata = card_metadata(summaries, license=license)
    text = body.substitute(
        pretty_name=metadata.pretty_name, version=__version__, repo_id=repo_id or "ORG/NAME",
        first_config=summaries[0].name, configs_table=_configs_table(summaries),
        regenerate="\n\n".join(_regenerate_section(summary) for summary in summaries),
        costs=_costs_section(summaries), license=license)
    text = re.sub(r"\n{3,}", "\n\n", text.strip())
    return f"---\n{metadata.to_yaml()}\n---\n\n{text}\n"


def write_card(root: str | Path, *, repo_id: str | None = None, license: str = "apache-2.0",
               template: str | Path | None = None) -> Path:
    """Summarize every generated folder under `root` and write `root/README.md` atomically."""
    root = Path(root)
    summaries = [summarize(dataset) for dataset in find_datasets(root)]
    text = render_card(summaries, repo_id=repo_id, license=license, template=template)
    return write_text_atomic(root / "README.md", text)


def write_text_atomic(path: Path, text: str) -> Path:
    """Write `text` to a temporary file beside `path`, then rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
