"""Sharded, resumable dataset generation on local processes or a Ray cluster.

A *task* (`ShardTask`) turns a range of item indices into rows. `generate` cuts `count` items into
fixed ranges of `shard_size` items, one *shard* each, and writes every shard to
`out_dir/shard-NNNNN.arrow` (Arrow IPC stream, through `AtomicArrowWriter`). Item i draws its
randomness from `item_seed(seed, i)`, so the bytes of every shard depend only on
(task, count, seed, shard_size) and never on the number of workers or the engine.

`out_dir/manifest.json` records the task name, class and config, seed, count, shard_size, package
version, split config (when a `split` column is added) and, per shard, its item range, its seed
and, once written, its row count and sha256 checksum. The manifest is rewritten atomically as
shards finish, so an interrupted run can resume: `resume=True` keeps the shards whose checksum
matches the manifest and writes the rest. A shard file appears only complete, by rename, so a
killed run leaves at most a hidden temporary file, which the next run removes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import pyarrow as pa

from mplm_data import __version__
from mplm_data.arrow_io import AtomicArrowWriter
from mplm_data.generators.errors import MplmDataError
from mplm_data.generators.seeding import item_seed
from mplm_data.splits import SplitConfig, add_split_column, with_split_field

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
ENGINES = ("local", "ray")
_LOCK_NAME = ".lock"
# Shard seeds are SeedSequence(seed, spawn_key=(_SHARD_KEY, shard)); the tag sits far above any
# realistic item index, so shard seeds never coincide with item seeds.
_SHARD_KEY = 0x5348_4152_44
# Minimum seconds between two manifest writes while shards finish; the final write always happens.
_MANIFEST_INTERVAL = 1.0


class ShardTask(Protocol):
    """A picklable, frozen description of the rows to generate.

    `rows(seed, start, stop)` returns the rows of items start..stop-1 for base `seed`. Item i must
    draw all its randomness from `item_seed(seed, i)` or `item_rng(seed, i)`, so a row never
    depends on how items are cut into shards or spread over workers.
    """

    name: str

    def schema(self) -> pa.Schema: ...

    def config(self) -> dict[str, Any]: ...

    def rows(self, seed: int, start: int, stop: int) -> pa.Table: ...


@dataclass(frozen=True)
class ShardRecord:
    """One shard: its file, item range and seed; `rows` and `sha256` are None until written."""

    index: int
    file: str
    start: int
    stop: int
    seed: int
    rows: int | None = None
    sha256: str | None = None

    @property
    def done(self) -> bool:
        """Whether the shard has been written and checksummed."""
        return self.sha256 is not None


@dataclass
class Manifest:
    """Contents of manifest.json: what was generated, how, and the state of every shard."""

    task: str
    config: dict[str, Any]
    seed: int
    count: int
    shard_size: int
    version: str = __version__
    splits: dict[str, Any] | None = None
    task_class: str | None = None
    shards: list[ShardRecord] = field(default_factory=list)
    format: int = MANIFEST_FORMAT

    @property
    def complete(self) -> bool:
        """Whether every shard has been written."""
        return all(shard.done for shard in self.shards)

    @property
    def rows(self) -> int:
        """Total rows of the written shards."""
        return sum(shard.rows or 0 for shard in self.shards)

    def identity(self) -> dict[str, Any]:
        """The fields that fix the output bytes; a resumed run must match them exactly."""
        return {"task": self.task, "config": self.config, "seed": self.seed, "count": self.count,
                "shard_size": self.shard_size, "version": self.version, "splits": self.splits}

    def to_json(self) -> str:
        """Serialize deterministically (sorted keys, shards in index order)."""
        record = asdict(self)
        record["shards"] = [asdict(shard) for shard in sorted(self.shards, key=lambda s: s.index)]
        return json.dumps(record, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, path: Path | None = None) -> "Manifest":
        """Parse manifest.json text; raises MplmDataError naming `path` when it is malformed."""
        try:
            record = json.loads(text)
            shards = [ShardRecord(**shard) for shard in record.pop("shards")]
            manifest = cls(**record, shards=shards)
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise MplmDataError(f"{path or MANIFEST_NAME} is not a valid dataset manifest ({err}); "
                                f"delete the folder or choose another one") from err
        if manifest.format != MANIFEST_FORMAT:
            raise MplmDataError(f"{path} has manifest format {manifest.format}; this version reads "
                                f"format {MANIFEST_FORMAT}, so regenerate the data in a new folder")
        return manifest

    @classmethod
    def load(cls, folder: str | Path) -> "Manifest":
        """Read `folder/manifest.json`."""
        path = Path(folder) / MANIFEST_NAME
        return cls.from_json(path.read_text(encoding="utf-8"), path)

    def save(self, folder: str | Path) -> None:
        """Write `folder/manifest.json` through a temporary file and a rename."""
        path = Path(folder) / MANIFEST_NAME
        tmp = path.with_name(f".{MANIFEST_NAME}.tmp-{os.getpid()}")
        tmp.write_text(self.to_json(), encoding="utf-8")
        os.replace(tmp, path)


def shard_seed(seed: int, shard: int) -> int:
    """Derive the seed of shard `shard` from the base seed (recorded for provenance)."""
    return item_seed(seed, _SHARD_KEY, shard)


def plan(task: ShardTask, *, count: int, seed: int, shard_size: int,
         splits: SplitConfig | None = None) -> Manifest:
    """Build the manifest of a run before anything is written: every shard pending."""
    shards = [ShardRecord(index=i, file=f"shard-{i:05d}.arrow", start=start,
                          stop=min(start + shard_size, count), seed=shard_seed(seed, i))
              for i, start in enumerate(range(0, count, shard_size))]
    task_class = f"{type(task).__module__}:{type(task).__qualname__}"
    return Manifest(task=task.name, config=task.config(), seed=seed, count=count,
                    shard_size=shard_size, splits=None if splits is None else splits.to_dict(),
                    task_class=task_class, shards=shards)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_shard(task: ShardTask, out_dir: str, manifest_seed: int, shard: ShardRecord,
                 splits: SplitConfig | None, provenance: dict[str, Any]) -> ShardRecord:
    """Generate one shard, write it atomically and return its record with rows and checksum."""
    table = task.rows(manifest_seed, shard.start, shard.stop)
    schema = task.schema()
    if splits is not None:
        table = add_split_column(table, splits)
        schema = with_split_field(schema)

    path = Path(out_dir) / shard.file
    shard_provenance = {**provenance, "shard": shard.index, "start": shard.start,
                        "stop": shard.stop, "shard_seed": shard.seed}
    with AtomicArrowWriter(path, schema, provenance=shard_provenance) as writer:
        writer.write(table)
        rows = writer.finalize()
    return replace(shard, rows=rows, sha256=file_sha256(path))


def _check_arguments(count: int, seed: int, shard_size: int, workers: int, engine: str) -> None:
    for name, value, low in (("count", count, 1), ("seed", seed, 0), ("shard_size", shard_size, 1),
                             ("workers", workers, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise MplmDataError(f"{name} must be an integer >= {low}, got {value!r}")
    if engine not in ENGINES:
        raise MplmDataError(f"engine {engine!r} is not supported; use one of {', '.join(ENGINES)}")


def _lock(out_dir: Path) -> int:
    """Take an exclusive lock on `out_dir` so two runs never write one folder at once."""
    descriptor = os.open(out_dir / _LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as err:
        os.close(descriptor)
        raise MplmDataError(f"another run is writing to {out_dir}; wait for it to finish or "
                            f"choose another folder") from err
    return descriptor


def _describe_difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    changed = [key for key in new if old.get(key) != new.get(key)]
    return "; ".join(f"{key}: {old.get(key)!r} -> {new.get(key)!r}" for key in changed)


def _prepare(out_dir: Path, planned: Manifest, resume: bool) -> Manifest:
    """Compare `out_dir` with the planned run and return the manifest to continue from."""
    for stale in out_dir.glob(".*.tmp-*"):
        stale.unlink(missing_ok=True)
    entries = [entry for entry in out_dir.iterdir() if entry.name != _LOCK_NAME]
    if not entries:
        return planned

    if not (out_dir / MANIFEST_NAME).is_file():
        raise MplmDataError(f"output folder {out_dir} is not empty and has no {MANIFEST_NAME}; "
                            f"choose an empty or new folder")
    existing = Manifest.load(out_dir)
    if existing.identity() != planned.identity():
        difference = _describe_difference(existing.identity(), planned.identity())
        raise MplmDataError(f"output folder {out_dir} contains a dataset with a different config "
                            f"({difference}); choose another folder, or rerun with the original "
                            f"settings and --resume")
    if not resume:
        done = sum(shard.done for shard in existing.shards)
        raise MplmDataError(f"output folder {out_dir} already contains {done} of "
                            f"{len(existing.shards)} shards of this dataset; pass --resume to "
                            f"verify and complete it, or choose another folder")

    return _verified(out_dir, existing)


def _verified(out_dir: Path, manifest: Manifest) -> Manifest:
    """Keep the shards whose file matches the recorded checksum and mark the others pending."""
    shards = []
    for shard in manifest.shards:
        path = out_dir / shard.file
        if shard.done and path.is_file() and file_sha256(path) == shard.sha256:
            shards.append(shard)
            continue
        if shard.done:
            logger.warning("shard %s is missing or fails its checksum; writing it again", path)
        shards.append(replace(shard, rows=None, sha256=None))
    return replace(manifest, shards=shards)


def generate(task: ShardTask, out_dir: str | Path, *, count: int, seed: int, shard_size: int = 1000,
             workers: int = 1, engine: str = "local", ray_address: str | None = None,
             resume: bool = False, progress: Callable[[int], None] | None = None,
             splits: SplitConfig | None = None) -> Manifest:
    """Write `count` items of `task` as Arrow shards plus manifest.json into `out_dir`.

    `workers` sets the local processes (1 runs in this process). `engine="ray"` runs the shards as
    Ray tasks on the cluster at `ray_address`, or on a local one when no cluster is running. Ray
    workers write the shards themselves, so every node must see `out_dir` at the same path.
    `splits` adds a `split` column (see mplm_data.splits). `progress` receives the rows of each
    shard as it finishes, and the rows of the shards kept by `resume` up front.
    Raises MplmDataError for invalid arguments or an output folder that contains other data.
    """
    _check_arguments(count, seed, shard_size, workers, engine)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    planned = plan(task, count=count, seed=seed, shard_size=shard_size, splits=splits)

    lock = _lock(out_dir)
    try:
        manifest = _prepare(out_dir, planned, resume)
        manifest.save(out_dir)
        if progress is not None and manifest.rows:
            progress(manifest.rows)

        pending = [shard for shard in manifest.shards if not shard.done]
        provenance = {"task": task.name, "config": manifest.config, "seed": seed, "count": count,
                      "shard_size": shard_size, "splits": manifest.splits}
        jobs = (task, str(out_dir), seed, splits, provenance)
        if engine == "ray":
            results = _run_ray(jobs, pending, ray_address)
        elif workers == 1 or len(pending) <= 1:
            results = (_write_shard(task, str(out_dir), seed, shard, splits, provenance)
                       for shard in pending)
        else:
            results = _run_local(jobs, pending, workers)
        _collect(results, manifest, out_dir, progress)
    finally:
        os.close(lock)

    logger.info("generated %d rows of %s in %d shards under %s", manifest.rows, task.name,
                len(manifest.shards), out_dir)
    return manifest


def _collect(results: Iterator[ShardRecord], manifest: Manifest, out_dir: Path,
             progress: Callable[[int], None] | None) -> None:
    """Record finished shards in the manifest, saving it at most once per interval and at exit."""
    last_save = time.monotonic()
    try:
        for record in results:
            manifest.shards[record.index] = record
            if progress is not None:
                progress(record.rows or 0)
            if time.monotonic() - last_save >= _MANIFEST_INTERVAL:
                manifest.save(out_dir)
                last_save = time.monotonic()
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()
        manifest.save(out_dir)


def _run_local(jobs: tuple, pending: list[ShardRecord], workers: int) -> Iterator[ShardRecord]:
    """Run shards on a pool of spawned processes and yield their records as they finish.

    Spawned (not forked) workers start clean, which numba's threading layers require.
    """
    task, out_dir, seed, splits, provenance = jobs
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=min(workers, len(pending)), mp_context=context)
    try:
        futures: set[Future] = {pool.submit(_write_shard, task, out_dir, seed, shard, splits,
                                            provenance) for shard in pending}
        while futures:
            finished, futures = wait(futures, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_ray(jobs: tuple, pending: list[ShardRecord], address: str | None) -> Iterator[ShardRecord]:
    """Run shards as Ray tasks and yield their records as they finish."""
    try:
        import ray
    except ImportError as err:
        raise MplmDataError("engine 'ray' needs the ray package; install it with "
                            "pip install 'mplm-data[ray]'") from err

    task, out_dir, seed, splits, provenance = jobs
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, log_to_driver=False)
    elif address is not None:
        logger.warning("ray is already initialized; ignoring ray_address=%s", address)

    remote = ray.remote(_write_shard)
    try:
        refs = [remote.remote(task, out_dir, seed, shard, splits, provenance) for shard in pending]
        while refs:
            finished, refs = ray.wait(refs, num_returns=1)
            record = ray.get(finished[0])
            if not (Path(out_dir) / record.file).is_file():
                raise MplmDataError(f"a Ray worker wrote {record.file} but it is missing from "
                                    f"{out_dir}; put the output folder on a filesystem that every "
                                    f"node shares")
            yield record
    finally:
        if started:
            ray.shutdown()
