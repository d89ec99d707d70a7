"""Traces of one solved instance as message-passing (MPLM), fork-join (FJ) and chain-of-thought
(CoT) threads, with their timing model, costs, text form, validator and Arrow storage.

docs/protocol.md describes the protocol; `mplm_data.traces.sudoku.render_trace` is the entry
point for Sudoku and `mplm_data.traces.storage` writes the rows.
"""
