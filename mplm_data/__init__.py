"""mplm-data: training data for Message Passing Language Models.

The pipeline runs one way: `mplm_data.generators` makes instances, `mplm_data.solvers` solves them
and records derivations, and this package renders derivations as traces, writes datasets and holds
the command-line interface.
"""

__version__ = "0.1.0"
