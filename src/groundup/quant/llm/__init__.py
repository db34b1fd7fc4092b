"""LLM quantization on a real decoder (curriculum 1.2): RTN, GPTQ, AWQ, SmoothQuant, NF4 and QLoRA.

One file per method (rtn.py, gptq.py, awq.py, smoothquant.py, nf4.py, qlora.py), shared pieces beside
them (qweight.py: the weight-only module; calibration.py, sequential.py, arch.py: how a model is walked),
and the entry point `quantize.quantize_llm(model, method, bits, group_size, windows=...)`.
Checkpoints: checkpoint.py (safetensors + manifest), gguf_export.py (Q4_1). CLI: cli.py.
"""
