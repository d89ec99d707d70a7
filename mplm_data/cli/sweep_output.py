"""Output of the SAT and QA cost sweeps that `mplm-data stats --task sat|qa` runs.

Both sweeps return a dict with mean costs per format and sweep size under `formats`
(`{fmt: {size: {metric: mean}}}`) and the growth exponent of one metric per format under
`exponents` (None where no slope was fitted). `print_sweep` prints that dict as JSON, or as a
table followed by the exponents.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Sequence

from rich.console import Console
from rich.table import Table

stdout = Console()


def print_sweep(result: dict[str, Any], *, as_json: bool, title: str, size_column: str,
                metrics: Sequence[str], plot: Path | None, notes: Iterable[str] = ()) -> None:
    """Print a sweep result as indented JSON, or as a table of means and the fitted exponents.

    The table has a row per format and size, with `size_column` naming the size, and one column
    per name in `metrics`. `notes` are lines printed between the table and the exponents. The
    exponent lines name the metric from `result["settings"]["metric"]`, and the last line gives
    `plot` when one was saved.
    """
    if as_json:
        print(json.dumps(result, indent=2))
        return

    table = Table(title=title)
    for column in ("format", size_column, *metrics):
        table.add_column(column, justify="left" if column == "format" else "right")
    for fmt, by_size in result["formats"].items():
        for size, means in by_size.items():
            table.add_row(fmt, str(size), *(f"{means[name]:.1f}" for name in metrics))
    stdout.print(table)

    for note in notes:
        stdout.print(note, highlight=False)
    metric = result["settings"]["metric"]
    for fmt, exponent in result["exponents"].items():
        if exponent is not None:
            stdout.print(f"{metric} ~ {size_column}^{exponent:.2f} for {fmt}", highlight=False)
    if plot is not None:
        stdout.print(f"plot saved to {plot}")
