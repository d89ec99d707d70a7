"""Root typer application and the error handling shared by every command.

Command modules register themselves on `app`, `gen_app` or `solve_app` when imported; `main`
imports them, so `import mplm_data.cli.app` alone stays cheap. torch and transformers are never
imported here.
"""

from __future__ import annotations

import importlib
import logging

import typer
from rich.console import Console

from mplm_data.generators.errors import MplmDataError

app = typer.Typer(
    name="mplm-data",
    help="Generate, solve, render and publish training data for Message Passing Language Models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
gen_app = typer.Typer(help="Generate instances and traces.", no_args_is_help=True)
solve_app = typer.Typer(help="Solve instances read from files.", no_args_is_help=True)
app.add_typer(gen_app, name="gen")
app.add_typer(solve_app, name="solve")

stderr = Console(stderr=True)

# Modules whose import registers commands; each one owns the commands of one task or feature.
COMMAND_MODULES: tuple[str, ...] = ("mplm_data.cli.dataset", "mplm_data.cli.sat", "mplm_data.cli.traces",
                                     "mplm_data.cli.sudoku", "mplm_data.cli.sft", "mplm_data.cli.qa")


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error to stderr and exit with `code`; usable inside and outside commands."""
    stderr.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise SystemExit(code)


def main() -> None:
    """Run the CLI: turn domain errors into one-line messages and a non-zero exit.

    Typer itself reports usage errors (unknown options, bad values) with exit code 2.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for module in COMMAND_MODULES:
        importlib.import_module(module)

    try:
        app()
    except MplmDataError as err:
        fail(str(err))
    except OSError as err:
        fail(f"{err.strerror or err}: {err.filename}" if err.filename else str(err))
    except KeyboardInterrupt:
        stderr.print("interrupted; completed output files are kept, rerun to resume")
        raise SystemExit(130) from None
