"""Instance generators: Sudoku grids and puzzles, and random k-SAT formulas.

Installed as `mplm_data.generators`. This layer imports nothing from the layers above it.
"""
