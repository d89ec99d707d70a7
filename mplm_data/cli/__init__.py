"""The `mplm-data` command-line interface (typer)."""
