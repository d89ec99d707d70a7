"""Benchmark dataset writing: shard generation and Parquet export, throughput and peak memory.

Each measurement runs in a fresh child process and reports rows per second, the child's peak
resident memory (`resource.getrusage(RUSAGE_SELF).ru_maxrss`) and how much that peak grew during
the work, after the imports. A growth that stays flat across sizes means memory does not grow
with the dataset. Ratios compare the last size with the first, measured in the same run.

Workloads:
- `rows`: `generate` with a synthetic task of about 3 KB per row (a puzzle-length string, 200
  int32 values and a 2 KB text), one worker, shards of 1000 rows.
- `export`: `export_folder` of the `rows` output into per-split Parquet files, with 8 MiB row
  groups, small enough that the per-split buffers fill and flush at 20,000 rows and above.
- `sudoku`: `generate` with `SudokuPuzzleTask(n=9)`, when that module imports.
- `qa-traces`: `generate` with `QATraceTask()` (synthetic QA items rendered as MPLM, fork-join
  and chain-of-thought traces, one row per trace), when that module imports. Sizes count items,
  and the rows/s column counts traces.

Usage: .venv/bin/python scripts/bench_write.py [--sizes 2000 20000 ...] [--sudoku-sizes 200 2000]
       [--trace-sizes 100 1000]
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from mplm_data.generators.seeding import item_rng

BENCH_SCHEMA = pa.schema([
    pa.field("index", pa.int64(), nullable=False),
    pa.field("puzzle", pa.large_string(), nullable=False),
    pa.field("values", pa.large_list(pa.int32()), nullable=False),
    pa.field("text", pa.large_string(), nullable=False),
])
ROW_GROUP_BYTES = 8 * 2**20


@dataclass(frozen=True)
class BenchRowsTask:
    """Synthetic rows of about 3 KB each, drawn from the item seeds."""

    name: str = "bench-rows"

    def schema(self) -> pa.Schema:
        return BENCH_SCHEMA

    def config(self) -> dict:
        return {}

    def rows(self, seed: int, start: int, stop: int) -> pa.Table:
        puzzles, values, texts = [], [], []
        for index in range(start, stop):
            rng = item_rng(seed, index)
            digits = rng.integers(0, 10, 81)
            puzzles.append("".join("." if d == 0 else str(d) for d in digits.tolist()))
            values.append(rng.integers(0, 2**31 - 1, 200, dtype="int32"))
            texts.append(rng.bytes(1024).hex())
        return pa.table({"index": pa.array(range(start, stop), pa.int64()), "puzzle": puzzles,
                         "values": pa.array(values, pa.large_list(pa.int32())), "text": texts},
                        schema=BENCH_SCHEMA)


def _peak_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(kind: str, size: int, folder: Path) -> dict:
    """Run one measurement in this process and return rows, seconds and peak memory.

    Modules are imported before the work starts, so `growth_mib` (peak RSS after the work minus
    peak RSS after the imports) is the memory that the work itself needed.
    """
    import datasets  # noqa: F401  (imported by the card builder; load it before measuring)

    from mplm_data.hub import ExportLimits, export_folder
    from mplm_data.shards import generate
    from mplm_data.splits import SplitConfig
    if kind == "sudoku":
        from mplm_data.sudoku_rows import SudokuPuzzleTask
    if kind == "qa-traces":
        from mplm_data.qa_rows import QATraceTask

    before = _peak_rss_mib()
    started = time.perf_counter()
    if kind == "rows":
        splits = SplitConfig(key="column", column="puzzle")
        rows = generate(BenchRowsTask(), folder / "rows", count=size, seed=0, splits=splits).rows
    elif kind == "export":
        summaries = export_folder(folder / "rows", folder / "hub",
                                  limits=ExportLimits(row_group_bytes=ROW_GROUP_BYTES))
        rows = sum(sum(summary.split_rows.values()) for summary in summaries)
    elif kind == "sudoku":
        rows = generate(SudokuPuzzleTask(n=9), folder / "sudoku", count=size, seed=0).rows
    elif kind == "qa-traces":
        rows = generate(QATraceTask(), folder / "qa", count=size, seed=0, shard_size=100).rows
    else:
        raise ValueError(f"unknown workload {kind!r}; use rows, export, sudoku or qa-traces")
    seconds = time.perf_counter() - started
    peak = _peak_rss_mib()
    return {"rows": rows, "seconds": seconds, "peak_mib": peak, "growth_mib": peak - before}


def measure(kind: str, size: int, folder: Path) -> dict:
    """Run one measurement in a child process and return its report."""
    command = [sys.executable, __file__, "--child", kind, str(size), str(folder)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def importable(module: str) -> bool:
    """Check whether `module` imports; the sudoku and qa-traces workloads are skipped otherwise."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000],
                        help="row counts for the rows and export workloads (two or more)")
    parser.add_argument("--sudoku-sizes", type=int, nargs="+", default=[200, 2000],
                        help="puzzle counts for the sudoku workload (two or more)")
    parser.add_argument("--trace-sizes", type=int, nargs="+", default=[100, 1000],
                        help="item counts for the qa-traces workload (two or more)")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "SIZE", "FOLDER"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        kind, size, folder = args.child
        print(json.dumps(run_child(kind, int(size), Path(folder))))
        return
    if min(len(args.sizes), len(args.sudoku_sizes), len(args.trace_sizes)) < 2:
        parser.error("--sizes, --sudoku-sizes and --trace-sizes each need at least two counts")

    workloads = [("rows", args.sizes), ("export", args.sizes)]
    optional = [("sudoku", "mplm_data.sudoku_rows", args.sudoku_sizes),
                ("qa-traces", "mplm_data.qa_rows", args.trace_sizes)]
    for kind, module, sizes in optional:
        if importable(module):
            workloads.append((kind, sizes))
        else:
            print(f"{kind} workload skipped: {module} does not import", file=sys.stderr)

    print("| workload | rows | seconds | rows/s | peak RSS (MiB) | RSS growth during work (MiB) |")
    print("|---|---|---|---|---|---|")
    results: dict[tuple[str, int], dict] = {}
    folders = {size: Path(tempfile.mkdtemp())
               for size in (*args.sizes, *args.sudoku_sizes, *args.trace_sizes)}
    for kind, sizes in workloads:
        # A small warm-up run fills numba's on-disk cache, so no measured run pays for compiling.
        if kind != "export":
            measure(kind, 2, Path(tempfile.mkdtemp()))
        for size in sizes:
            report = measure(kind, size, folders[size])
            results[kind, size] = report
            print(f"| {kind} | {report['rows']} | {report['seconds']:.2f} | "
                  f"{report['rows'] / report['seconds']:.0f} | {report['peak_mib']:.0f} | "
                  f"{report['growth_mib']:.0f} |")

    print()
    for kind, sizes in workloads:
        low, high = results[kind, sizes[0]], results[kind, sizes[-1]]
        speed = (high["rows"] / high["seconds"]) / (low["rows"] / low["seconds"])
        memory = high["growth_mib"] / max(low["growth_mib"], 1.0)
        print(f"{kind}: {high['rows']} vs {low['rows']} rows: throughput ratio {speed:.2f}, "
              f"memory growth ratio {memory:.2f}")

if __name__ == "__main__":
    main()
