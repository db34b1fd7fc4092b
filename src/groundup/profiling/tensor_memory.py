"""Peak bytes of the tensors a PyTorch call allocates, counted exactly, on any device.

`measure.PeakRSS` sees the whole process (allocator caches, Python objects, fragmentation); to say
"this algorithm holds O(T) extra memory and that one O(T^2)" we want the tensors themselves. Inside
`TensorMemory`, every op's outputs are recorded by storage (views share their base's storage) with a
weak reference; a storage whose weak reference has died was freed. The running total of live
storages after each op gives the peak. Tensors that existed before the block (inputs, weights) are
not counted; work buffers a fused kernel allocates internally (and frees before returning) are
invisible, which is the point of comparing algorithms, not allocators.

    with TensorMemory() as mem:
        attention(q, k, v)
    mem.peak_bytes
"""

from __future__ import annotations

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class TensorMemory(TorchDispatchMode):
    """Context manager: `.peak_bytes` (and `.current_bytes`) of tensors allocated inside the block."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}  # storage address -> (weak ref, bytes)
        self.current_bytes = 0
        self.peak_bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self._forget_freed()
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self._record(t)
        self.peak_bytes = max(self.peak_bytes, self.current_bytes)
        return out

    def _record(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        key, size = storage.data_ptr(), storage.nbytes()
        if size and key not in self.live:
            self.live[key] = (StorageWeakRef(storage), size)
            self.current_bytes += size

    def _forget_freed(self) -> None:
        for key in [k for k, (ref, _) in self.live.items() if ref.expired()]:
            self.current_bytes -= self.live.pop(key)[1]


def peak_tensor_bytes(fn, *args, **kwargs) -> int:
    """Peak bytes of the tensors `fn(*args, **kwargs)` allocates (its output included)."""
    with TensorMemory() as mem:
        fn(*args, **kwargs)
    return mem.peak_bytes
