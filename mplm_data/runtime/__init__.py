"""The MPLM runtime: decode every thread of many problems with one causal LM, batched per step.

Modules, in dependency order:

- `problems`: a problem's root prompts and fork child prompts (`Problem`), built from a trace.
- `results`: what a run returns (`RunResult`, `ThreadFault`) and how it is judged (`judge`).
- `problem_run`: the protocol side of one problem under the lockstep timing model of
  `mplm_data.traces.schedule`: routing, delivery, preemption, forks, deadlock and limits.
- `kv_cache`, `hf_model`: a slot KV cache and the adapter that runs a transformers causal LM on it.
- `models`: replay and scripted test models with the same interface.
- `engine`: `Runtime`, the batched decoder loop that admits problems up to a live-thread budget.
- `sft`: training rows, one per thread (no torch import); `train`: the supervised fine-tune loop.
- `evaluate`: Sudoku instances for fine-tune checks and the summary of an evaluation.
- `end_tokens`: a pretrained model's own end-of-turn tokens, as ids of the trace tokenizer.
- `prompting`: a pretrained instruction model run as threads without fine-tuning.

Importing this package, `problems`, `results`, `problem_run`, `sft` or `end_tokens` does not
import torch; the other modules do.
"""
