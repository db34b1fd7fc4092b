"""The menu of LLM quantization methods and the request check, without torch: the CLI validates a
request (`groundup quantize --method gptq --bits 4`) before importing anything heavy.

    method       bits      group_size           calibration
    rtn          3, 4, 8   None/32/64/128 (128) no
    gptq         2,3,4,8   None/32/64/128 (128) yes (Hessians, sequential)
    awq          3, 4      None/32/64/128 (128) yes (activation magnitudes)
    smoothquant  8 (W8A8)  per-channel only     yes (activation maxima)
    nf4          4         blocks of 64         no
"""

from __future__ import annotations

GROUP_SIZES = (None, 32, 64, 128)  # None: one scale per output channel
METHODS = ("rtn", "gptq", "awq", "smoothquant", "nf4")
BITS = {"rtn": (3, 4, 8), "gptq": (2, 3, 4, 8), "awq": (3, 4), "smoothquant": (8,), "nf4": (4,)}
NEEDS_CALIBRATION = ("gptq", "awq", "smoothquant")


def check_request(method: str, bits: int, group_size: int | None) -> int | None:
    """Validate the combination; returns the group size to use (method default when None is given)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if bits not in BITS[method]:
        raise ValueError(f"{method}: bits must be one of {BITS[method]}, got {bits}")
    if method in ("smoothquant", "nf4"):
        if group_size is not None:
            raise ValueError(
                f"{method}: group_size is fixed ({'per-channel' if method == 'smoothquant' else 'blocks of 64'}); "
                f"leave it unset, got {group_size}"
            )
        return None
    if group_size not in GROUP_SIZES:
        raise ValueError(
            f"{method}: group_size must be one of 32, 64, 128 or 0 for per-channel, got {group_size}"
        )
    return group_size
