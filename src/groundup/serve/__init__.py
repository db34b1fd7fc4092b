"""Serving: a paged-KV inference engine (continuous batching, prefix caching, speculative decoding)
behind an OpenAI-compatible HTTP server.

Layers, after nano-vllm: `sequence` (request state) → `block_manager` (KV memory) → `scheduler`
(who runs this step) → `model_runner` (one batched forward with paged attention, sampling) →
`engine` (the step loop) → `server` (HTTP). The engine sees token ids; only the server sees text.
"""
