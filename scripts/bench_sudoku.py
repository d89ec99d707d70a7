"""Benchmark the Sudoku engine beside peers measured in the same run.

Solving: puzzles per second on the public tdoku benchmark files (9x9) for `solve_batch` (limit
1 finds a solution, limit 2 also proves it unique), `solve` called per puzzle, python-sat
(CaDiCaL 1.5.3, one incremental solver over the Sudoku rules with the clues as assumptions),
py-sudoku and reasoning-gym's Sudoku counter. Peers that are not installed are reported and
skipped. Generation: minimal 9x9, default 25x25 and minimal 25x25 puzzles per second, beside
reasoning-gym's 9x9 generator. Memory: tracemalloc peak and resident set size after
generation runs of different lengths.

Our rows run with one Numba thread, so every rate is per core, except the row marked with the
thread count. Reference figures are not measured here. tdoku's come from the tdoku repository,
file benchmarks/GCE-c2-standard-4_clang-8_O3_native (commit 0be83d9; Google Cloud c2-standard-4,
2 cores of a Xeon Cascade Lake, clang 8 -O3 -march=native): 292,389 puzzles/s on the 17-clue
set, 108,661 on magictour top1465 and 12,058 on forum hardest 1106. QQWing's 327 minimal 9x9
puzzles/s per core is a figure not checked against a published source.

Usage: MPLM_PUBLIC_DATA=/path/to/public/data python scripts/bench_sudoku.py [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

import numba
import numpy as np

from mplm_data.generators.sudoku import PuzzleConfig, generate_puzzle
from mplm_data.generators.sudoku_geometry import Geometry, text_to_grid
from mplm_data.solvers.sudoku_exact import solve, solve_batch

FILES = {
    "17-clue": "tdoku_puzzles2_17_clue_first1000.txt",
    "top1465": "tdoku_puzzles3_magictour_top1465.txt",
    "forum-hardest": "tdoku_puzzles6_forum_hardest_1106.txt",
}
TDOKU_PER_S = {"17-clue": 292_389, "top1465": 108_661, "forum-hardest": 12_058}
QQWING_MINIMAL_9X9_PER_S = 327
GOALS = {
    "minimal 9x9": 3_000,
    "default 25x25": 10,
    "minimal 25x25": 0.5,
}
GEOMETRY = Geometry.for_size(9)


class BudgetExceeded(Exception):
    """Raised by SIGALRM when a peer runs past its time budget."""


def _on_alarm(signum, frame):
    raise BudgetExceeded


def measure(run_one: Callable[[int], object], count: int, budget_s: float,
            interrupt: bool = False) -> tuple[int, float]:
    """Call run_one(i) for i in 0..count-1 until done or `budget_s` passes; return (done, s).

    The budget is checked between calls. With `interrupt`, SIGALRM also cuts off a call still
    running at the deadline; use it only for pure-Python peers, because an alarm inside a
    Numba dispatch surfaces as SystemError.
    """
    done = 0
    if interrupt:
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, budget_s)
    start = time.perf_counter()
    try:
        for index in range(count):
            run_one(index)
            done += 1
            if time.perf_counter() - start > budget_s:
                break
    except BudgetExceeded:
        pass
    finally:
        if interrupt:
            signal.setitimer(signal.ITIMER_REAL, 0)
        elapsed = time.perf_counter() - start
    return done, elapsed


def read_tdoku(path: Path) -> np.ndarray:
    """Read a tdoku file: '#' comment lines, then one 81-character puzzle per line."""
    rows = [text_to_grid(line.strip()[:81], GEOMETRY) for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    return np.stack(rows)


def pysat_solver() -> Callable[[np.ndarray], object]:
    """Return a per-puzzle solve function backed by one incremental CaDiCaL solver."""
    from pysat.card import CardEnc, EncType
    from pysat.solvers import Solver

    literal_groups = [[cell * 9 + d for d in range(1, 10)] for cell in range(81)]
    for unit in GEOMETRY.units.tolist():
        literal_groups.extend([cell * 9 + d for cell in unit] for d in range(1, 10))
    solver = Solver(name="cadical153")
    for literals in literal_groups:
        solver.append_formula(CardEnc.equals(lits=literals, encoding=EncType.pairwise).clauses)

    def run(puzzle: np.ndarray) -> object:
        clues = [cell * 9 + int(d) for cell, d in enumerate(puzzle.tolist()) if d]
        if not solver.solve(assumptions=clues):
            raise RuntimeError("python-sat found no solution for a puzzle that has one")
        return solver.get_model()

    return run


def pysudoku_solver() -> Callable[[np.ndarray], object]:
    from sudoku import Sudoku

    def run(puzzle: np.ndarray) -> object:
        return Sudoku(3, 3, board=puzzle.reshape(9, 9).tolist()).solve(assert_solvable=True)

    return run


def reasoning_gym_counter() -> Callable[[np.ndarray], object]:
    from reasoning_gym.games.sudoku import SudokuConfig, SudokuDataset

    dataset = SudokuDataset(SudokuConfig(seed=0, size=1))

    def run(puzzle: np.ndarray) -> object:
        # reasoning-gym 0.1.25 exposes no public solver; its generator proves uniqueness with
        # this method, which counts solutions up to 2 like solve_batch(limit=2).
        return dataset._count_solutions(puzzle.reshape(9, 9).tolist(), limit=2)

    return run


PEERS: dict[str, Callable[[], Callable[[np.ndarray], object]]] = {
    "python-sat (CaDiCaL, incremental)": pysat_solver,
    "py-sudoku": pysudoku_solver,
    "reasoning-gym count (limit 2)": reasoning_gym_counter,
}


def bench_solving(data: Path, budget_s: float, notes: list[str]) -> list[dict]:
    rows = []
    peers = {}
    for name, build in PEERS.items():
        try:
            peers[name] = build()
        except ImportError as err:
            notes.append(f"{name}: not installed ({err}); skipped")

    for label, file_name in FILES.items():
        puzzles = read_tdoku(data / "sudoku" / file_name)
        solve_batch(puzzles[:4], GEOMETRY)
        solve(puzzles[0], GEOMETRY)

        def add(method: str, done: int, seconds: float) -> None:
            rate = done / seconds if seconds > 0 else float("nan")
            rows.append({"set": label, "method": method, "puzzles": done, "seconds": seconds,
                         "per_s": rate, "vs_tdoku": rate / TDOKU_PER_S[label]})

        def batch_rate(limit: int) -> tuple[int, float]:
            # One pass over a file can take only milliseconds, so repeat it for a second.
            done, start = 0, time.perf_counter()
            while time.perf_counter() - start < 1.0:
                _, found = solve_batch(puzzles, GEOMETRY, limit=limit)
                done += len(puzzles)
            if not np.all(found == 1):
                notes.append(f"{label}: solve_batch limit={limit} found solution counts "
                             f"{sorted(set(found.tolist()))}, expected 1 for every puzzle")
            return done, time.perf_counter() - start

        for limit in (1, 2):
            add(f"solve_batch limit={limit}", *batch_rate(limit))
        threads = numba.config.NUMBA_NUM_THREADS
        numba.set_num_threads(threads)
        add(f"solve_batch limit=1, {threads} threads", *batch_rate(1))
        numba.set_num_threads(1)

        done, seconds = measure(lambda i: solve(puzzles[i], GEOMETRY), len(puzzles), budget_s)
        add("solve per puzzle", done, seconds)
        for name, run in peers.items():
            done, seconds = measure(lambda i: run(puzzles[i]), len(puzzles), budget_s,
                                    interrupt=True)
            add(name, done, seconds)
        rows.append({"set": label, "method": "tdoku (published, not run)", "puzzles": None,
                     "seconds": None, "per_s": TDOKU_PER_S[label], "vs_tdoku": 1.0})

    for row in rows:
        ours = next(other["per_s"] for other in rows if other["set"] == row["set"]
                    and other["method"] == "solve_batch limit=1")
        row["vs_ours"] = row["per_s"] / ours
    return rows


def bench_generation(counts: dict[str, int], budget_s: float, notes: list[str]) -> list[dict]:
    tasks = {
        "minimal 9x9": PuzzleConfig(n=9, minimal=True),
        "default 25x25": PuzzleConfig(n=25),
        "minimal 25x25": PuzzleConfig(n=25, minimal=True),
    }
    rows = []
    for label, config in tasks.items():
        generate_puzzle(PuzzleConfig(n=config.n, clues=config.geometry.cells - 1), 0)
        clue_counts: list[int] = []

        def run_one(index: int, config: PuzzleConfig = config) -> None:
            clue_counts.append(int(np.count_nonzero(generate_puzzle(config, index)[0])))

        # The minimal 25x25 budget is long because one puzzle takes minutes.
        limit = budget_s if label != "minimal 25x25" else max(budget_s, 600.0)
        done, seconds = measure(run_one, counts[label], limit)
        rate = done / seconds if done else 0.0
        rows.append({"task": label, "method": "generate_puzzle", "puzzles": done,
                     "seconds": seconds, "per_s": rate, "goal_per_s": GOALS[label],
                     "met": rate >= GOALS[label],
                     "mean_clues": float(np.mean(clue_counts)) if clue_counts else None})
    rows.append({"task": "minimal 9x9", "method": "QQWing (reference figure, not run)",
                 "puzzles": None, "seconds": None, "per_s": QQWING_MINIMAL_9X9_PER_S,
                 "goal_per_s": None, "met": None, "mean_clues": None})

    try:
        from reasoning_gym.games.sudoku import SudokuConfig, SudokuDataset
    except ImportError as err:
        notes.append(f"reasoning-gym generation: not installed ({err}); skipped")
    else:
        dataset = SudokuDataset(SudokuConfig(seed=0, size=10**6))
        clue_counts = []
        done, seconds = measure(
            lambda i: clue_counts.append(81 - dataset[i]["metadata"]["num_empty"]),
            counts["minimal 9x9"], budget_s, interrupt=True)
        rows.append({"task": "9x9, 31-51 clues", "method": "reasoning-gym dataset[i]",
                     "puzzles": done, "seconds": seconds, "per_s": done / seconds,
                     "goal_per_s": None, "met": None,
                     "mean_clues": float(np.mean(clue_counts)) if clue_counts else None})
    return rows


def resident_mib() -> float:
    """Current resident set size of this process in MiB, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_memory(counts: Sequence[int]) -> list[dict]:
    """Generate default 9x9 puzzles `count` times in a row; record traced peak and RSS after."""
    rows = []
    config = PuzzleConfig(n=9)
    for count in counts:
        tracemalloc.start()
        for seed in range(count):
            generate_puzzle(config, seed)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append({"puzzles": count, "traced_peak_kib": peak / 1024,
                     "rss_after_mib": resident_mib()})
    return rows


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines() if "model name" in line),
                 platform.processor())
    return {"cpu": model, "cores": os.cpu_count(), "load_average": os.getloadavg(),
            "python": platform.python_version(), "numba": numba.__version__,
            "numpy": np.__version__}


def print_table(title: str, rows: list[dict], columns: Sequence[str]) -> None:
    """Print `rows` as a Markdown table under a bold title."""
    print(f"\n**{title}**\n")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            if isinstance(value, float):
                cells.append(f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}")
            else:
                cells.append("-" if value is None else str(value))
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--budget", type=float, default=20.0,
                        help="seconds per peer and puzzle set (default 20)")
    parser.add_argument("--minimal25", type=int, default=2,
                        help="minimal 25x25 puzzles to generate (default 2, minutes each)")
    args = parser.parse_args()

    data = os.environ.get("MPLM_PUBLIC_DATA")
    if not data or not (Path(data) / "sudoku").is_dir():
        raise SystemExit("MPLM_PUBLIC_DATA must name the public data folder that contains "
                         "sudoku/; set it and rerun")

    numba.set_num_threads(1)
    notes: list[str] = []
    before = machine()
    solving = bench_solving(Path(data), args.budget, notes)
    generation = bench_generation({"minimal 9x9": 3000, "default 25x25": 100,
                                   "minimal 25x25": args.minimal25}, args.budget, notes)
    memory = bench_memory([500, 5000, 20000])
    after = machine()

    print(f"machine: {before['cpu']}, {before['cores']} cores, load average "
          f"{before['load_average']} at start, {after['load_average']} at end")
    print_table("Solving, puzzles/s (one thread unless stated)", solving,
                ["set", "method", "puzzles", "seconds", "per_s", "vs_tdoku", "vs_ours"])
    print_table("Generation, puzzles/s on one core", generation,
                ["task", "method", "puzzles", "seconds", "per_s", "goal_per_s", "met",
                 "mean_clues"])
    print_table("Memory while generating default 9x9 puzzles", memory,
                ["puzzles", "traced_peak_kib", "rss_after_mib"])
    for note in notes:
        print(f"note: {note}")

    if args.json:
        result = {"machine": before, "machine_after": after, "solving": solving,
                  "generation": generation, "memory": memory, "notes": notes}
        temporary = args.json.with_name(args.json.name + ".tmp")
        temporary.write_text(json.dumps(result, indent=2))
        temporary.replace(args.json)


if __name__ == "__main__":
    main()
