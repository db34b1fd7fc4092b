"""Tracks and modules of the groundup curriculum.

A test states the module it verifies with the pytest marker `@pytest.mark.module("0.2")`; the marker
refuses ids that are not listed here, so the dashboard and the tests cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Module:
    id: str
    title: str
    verifies: str


@dataclass(frozen=True)
class Track:
    id: str
    title: str
    modules: tuple[Module, ...]


TRACKS: tuple[Track, ...] = (
    Track(
        "0",
        "Foundations",
        (
            Module("0.1", "Classical ML", "estimators match scikit-learn on real tables"),
            Module("0.2", "Neural-network framework", "NumPy autograd ops, layers and losses match PyTorch"),
            Module("0.3", "CNNs", "convolutions, pooling and a CNN on real MNIST"),
            Module("0.4", "RNNs and sequence models", "RNN/LSTM/GRU and the makemore ladder"),
            Module("0.5", "Transformer variants", "encoder-only, decoder-only and encoder-decoder models"),
            Module("0.6", "Training techniques", "optimizers, schedules, normalization and regularization"),
            Module("0.7", "GPT from scratch", "micrograd to makemore to GPT, BPE and real weights"),
            Module("0.8", "Training framework", "trainer, checkpoints with exact resume, data parallel"),
            Module("0.9", "Theory tools", "Hessian spectra, landscapes, double descent, info plane, bounds"),
            Module("0.10", "Paper implementations", "published methods reproduced against their references"),
        ),
    ),
    Track(
        "1",
        "Miniaturization",
        (
            Module("1.1", "Quantization fundamentals", "affine/FP8/NF4 quantizers, observers, PTQ and QAT"),
            Module("1.2", "LLM quantization", "GPTQ, AWQ, SmoothQuant, NF4 and QLoRA on a real LLM"),
            Module("1.3", "Pruning, distillation, LoRA", "sparsity, teacher-student training and adapters"),
            Module(
                "1.4", "GGUF and ONNX formats", "bit-exact ggml blocks, GGUF reader/writer, real model load"
            ),
            Module("1.5", "Quantized kernels", "integer matmuls equal to their float references"),
            Module("1.6", "Profiling", "time and memory measured against a peer"),
        ),
    ),
    Track(
        "2",
        "Serving",
        (
            Module("2.1", "Inference stack", "KV cache, sampling and generation on a real model"),
            Module(
                "2.2", "Serving engine", "paged KV cache, continuous batching, speculative decoding, HTTP API"
            ),
        ),
    ),
    Track(
        "3",
        "Applications",
        (
            Module("3.1", "RAG", "chunking, embeddings, BM25, hybrid retrieval and grounded answers"),
            Module("3.2", "NLP pipeline", "tokenizers and text metrics against their references"),
            Module("3.3", "Vision", "Grad-CAM, augmentation and transfer learning"),
            Module("3.4", "Modern architectures", "MoE, SSM, RetNet, RWKV, flash attention, GQA, RoPE"),
            Module("3.5", "Alignment", "reward model, DPO and PPO"),
            Module("3.6", "Diffusion", "DDPM training and sampling"),
            Module("3.7", "Spec-driven ML", "contracts, property tests and drift monitoring"),
        ),
    ),
)

MODULES: dict[str, Module] = {m.id: m for track in TRACKS for m in track.modules}


def get_module(module_id: str) -> Module:
    """The module with this id; ValueError listing the valid ids otherwise."""
    if module_id not in MODULES:
        raise ValueError(f"unknown curriculum module {module_id!r}; valid ids: {', '.join(MODULES)}")
    return MODULES[module_id]
