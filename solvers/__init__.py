"""Reference solvers: exact solutions plus derivations, the ground-truth reasoning steps.

Installed as `mplm_data.solvers`. It builds on `mplm_data.generators` and on nothing higher.
"""
