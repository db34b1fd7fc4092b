"""The K-quant quantizers (Q2_K ... Q6_K) in NumPy, byte-for-byte what llama.cpp's reference code writes.

A K-quant super-block holds 256 weights in 16 sub-blocks of 16 (Q2_K, Q3_K, Q6_K) or 8 of 32 (Q4_K,
Q5_K). Quantizing one is two nested fits:

1. each sub-block gets its own scale s (and, for Q2/Q4/Q5_K, a minimum m) by a small search:
   x ≈ s·q − m with q in [0, nmax] (`_fit_scale_min`) or x ≈ s·q with q in [−nmax, nmax) (`_fit_scale`,
   `_fit_scale_q3`), minimizing a weighted squared (or absolute) error;
2. the sub-block scales are themselves quantized to 4-8 bits against one float16 super-block scale d
   (d = max s / 63 for the 6-bit scales of Q4_K), and every weight is re-rounded with the scale it
   will really be decoded with: q = round((x + d_min·m_j) / (d·sc_j)).

The searches follow llama.cpp's `make_qkx2_quants`, `make_qx_quants` and `make_q3_quants` (the
reference quantizers used when no importance matrix is given); the choice of every step (which
candidate scale wins, which tie goes where) decides the bytes, so we reproduce them exactly:

- sums run in float32 in the C loop's order (`_seq_sum`, never NumPy's pairwise `sum`);
- `nearest_int` is round-half-to-even (`np.rint` in float32);
- llama.cpp's reference code is compiled without fused multiply-add (ggml-base targets plain x86-64),
  so every `a*b + c` rounds twice here too.

Layout: arrays are (weights_per_sub_block, n_sub_blocks) inside the searches, so each step is one
vector operation over every sub-block of the tensor and the sequential sums walk the first axis.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32
GROUP_MAX_EPS = F32(1e-15)  # llama.cpp treats a group whose largest |x| is below this as all-zero


def _seq_sum(terms: np.ndarray, start_zero: bool = True) -> np.ndarray:
    """Sum over axis 0 one term at a time, as the C loop `s = 0; s += t[i]` does (float32 rounding
    after every addition)."""
    total = terms[0] + F32(0) if start_zero else terms[0].copy()
    for row in terms[1:]:
        total += row
    return total


def _nearest(v: np.ndarray) -> np.ndarray:
    """llama.cpp's `nearest_int`: round half to even (it adds 1.5·2^23 in float32)."""
    return np.rint(v)


def _signed_extreme(x: np.ndarray) -> np.ndarray:
    """Per column, the entry of largest magnitude with its sign (the first one on ties)."""
    rows = np.abs(x).argmax(axis=0)
    return x[rows, np.arange(x.shape[1])]


def _half(x: np.ndarray) -> np.ndarray:
    """float32 (n,) -> its float16 bytes (n, 2)."""
    return x.astype(np.float16).reshape(-1, 1).view(np.uint8)


def _f16(x: np.ndarray) -> np.ndarray:
    """The float32 value of a number once stored as float16."""
    return x.astype(np.float16).astype(F32)


# ---------------------------------------------------------------- scale searches


def _fit_scale_min(x, w, nmax: int, rmin: float, rdelta: float, nstep: int, use_mad: bool):
    """make_qkx2_quants: x (n, B) ≈ scale·L + min with L in [0, nmax] and min <= 0, minimizing
    Σ w·|err| (use_mad) or Σ w·err². Tries nstep + 1 stretched grids iscale = (nmax + rmin + i·rdelta)
    / (max − min), solving the 2x2 least-squares system for (scale, min) on each; a better fit also
    moves the min that later grids start from. Returns (scale (B,), -min (B,), L (n, B) float)."""
    lo = x.min(axis=0)
    lo = np.where(lo > 0, F32(0), lo)
    hi = x.max(axis=0)
    flat = hi == lo
    levels, work = np.empty_like(x), np.empty_like(x)
    with np.errstate(all="ignore"):
        iscale = F32(nmax) / (hi - lo)
        scale = F32(1) / iscale
        best = _fit_error(_grid(x, lo, iscale, nmax, levels), scale, lo, x, w, use_mad, work)
        win_iscale, win_lo = iscale, lo  # the grid that gave the best levels so far
        sum_w = _seq_sum(w, start_zero=False)
        sum_x = _seq_sum(np.multiply(w, x, out=work), start_zero=False)
        for step in range(nstep + 1):
            iscale = (F32(rmin) + F32(rdelta) * F32(step) + F32(nmax)) / (hi - lo)
            l = _grid(x, lo, iscale, nmax, levels)
            wl = np.multiply(w, l, out=work)
            sum_l, sum_l2, sum_xl = _seq_sum(wl), _seq_sum(wl * l), _seq_sum(wl * x)
            det = sum_w * sum_l2 - sum_l * sum_l
            this_scale = (sum_w * sum_xl - sum_x * sum_l) / det
            this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det
            positive = this_min > 0
            this_min = np.where(positive, F32(0), this_min)
            this_scale = np.where(positive, sum_xl / sum_l2, this_scale)
            err = _fit_error(l, this_scale, this_min, x, w, use_mad, work)
            better = (det > 0) & (err < best)
            win_iscale, win_lo = np.where(better, iscale, win_iscale), np.where(better, lo, win_lo)
            best = np.where(better, err, best)
            scale = np.where(better, this_scale, scale)
            lo = np.where(better, this_min, lo)
        L = _grid(x, win_lo, win_iscale, nmax, levels)
    return np.where(flat, F32(0), scale), -lo, np.where(flat, F32(0), L)


def _grid(x, lo, iscale, nmax: int, out):
    """Levels clip(round(iscale·(x − lo)), 0, nmax), written into `out`."""
    np.subtract(x, lo, out=out)
    out *= iscale
    np.rint(out, out=out)
    return np.clip(out, 0, nmax, out=out)


def _fit_error(levels, scale, lo, x, w, use_mad: bool, out):
    """Σ w·|scale·L + lo − x| or Σ w·(scale·L + lo − x)² per column, in the C loop's order."""
    diff = np.multiply(levels, scale, out=out)
    diff += lo
    diff -= x
    if use_mad:
        np.abs(diff, out=diff)
    else:
        diff *= diff
    diff *= w
    return _seq_sum(diff)


def _fit_scale(x, nmax: int):
    """make_qx_quants (weights x², no importance matrix): x (n, B) ≈ scale·l with l in [-nmax, nmax),
    the grid anchored on the extreme weight and stretched by ±0.1·i for i = 1..9.
    Returns (scale (B,), L = l + nmax (n, B) float)."""
    extreme = _signed_extreme(x)
    zero = np.abs(extreme) < GROUP_MAX_EPS
    wx, w = x * x * x, x * x  # the C loop's w*x[i] with w = x[i]*x[i]
    levels, work = np.empty_like(x), np.empty_like(x)

    def attempt(iscale):
        l = _signed_grid(x, iscale, nmax, levels)
        return _seq_sum(np.multiply(wx, l, out=work)), _seq_sum(np.multiply(w, l, out=work) * l)

    with np.errstate(all="ignore"):
        win = F32(-nmax) / extreme
        sumlx, suml2 = attempt(win)
        scale = np.where(suml2 != 0, sumlx / suml2, F32(0))
        best = scale * sumlx
        for step in (*range(-9, 0), *range(1, 10)):
            iscale = -(F32(nmax) + F32(0.1) * F32(step)) / extreme
            sumlx, suml2 = attempt(iscale)
            better = (suml2 > 0) & (sumlx * sumlx > best * suml2)
            win = np.where(better, iscale, win)
            scale = np.where(better, sumlx / suml2, scale)
            best = np.where(better, scale * sumlx, best)
        L = _signed_grid(x, win, nmax, levels) + nmax
    return np.where(zero, F32(0), scale), np.where(zero, F32(0), L)


def _signed_grid(x, iscale, nmax: int, out):
    """Levels clip(round(iscale·x), -nmax, nmax - 1), written into `out`."""
    np.multiply(x, iscale, out=out)
    np.rint(out, out=out)
    return np.clip(out, -nmax, nmax - 1, out=out)


def _fit_scale_q3(x, nmax: int = 4, passes: int = 5):
    """make_q3_quants: start from the grid anchored on the extreme weight, then revisit each weight
    in turn and move it to the level that the other weights' best-fit scale suggests, keeping the move
    when the weighted fit (Σ w·x·l)² / Σ w·l² improves (w = x²), for up to 5 passes.
    Returns (scale (B,), L = l + nmax (n, B) float; 0 for all-zero columns)."""
    extreme = _signed_extreme(x)
    zero = np.abs(extreme) < GROUP_MAX_EPS
    with np.errstate(all="ignore"):
        L = np.clip(_nearest(F32(-nmax) / extreme * x), -nmax, nmax - 1)
        w = x * x
        sumlx, suml2 = _seq_sum(w * x * L), _seq_sum(w * L * L)
        for _ in range(passes):
            changed = np.zeros(x.shape[1], dtype=bool)
            for i in range(x.shape[0]):
                wi, xi, li = w[i], x[i], L[i]
                slx = sumlx - wi * xi * li
                sl2 = suml2 - wi * li * li
                new = np.clip(_nearest(xi * sl2 / slx), -nmax, nmax - 1)
                slx_new = slx + wi * xi * new
                sl2_new = sl2 + wi * new * new
                take = (
                    (slx > 0)
                    & (new != li)
                    & (sl2_new > 0)
                    & (slx_new * slx_new * suml2 > sumlx * sumlx * sl2_new)
                )
                L[i] = np.where(take, new, li)
                sumlx = np.where(take, slx_new, sumlx)
                suml2 = np.where(take, sl2_new, suml2)
                changed |= take
            if not changed.any():  # a pass without a move would repeat itself exactly
                break
        scale = np.where(suml2 > 0, sumlx / suml2, F32(0))
    return np.where(zero, F32(0), scale), np.where(zero, F32(0), L + nmax)


# ---------------------------------------------------------------- shared steps


def _sub_blocks(x: np.ndarray, size: int) -> np.ndarray:
    """(nb, 256) -> (size, nb * 256 / size): one column per sub-block, in block order."""
    return np.ascontiguousarray(x.reshape(-1, size).T)


def _requantize(x, L, d, dm, lo: int, hi: int):
    """Round every weight again with the scale (and min) it will be decoded with; columns whose
    scale is 0 keep the levels of the search. x, L: (size, n_sub); d, dm: (n_sub,)."""
    with np.errstate(all="ignore"):
        fresh = np.clip(_nearest((x + dm) / d), lo, hi)
    return np.where(d != 0, fresh, L).astype(np.uint8)


def _levels(L: np.ndarray, nb: int, size: int) -> np.ndarray:
    """(size, n_sub) levels -> (nb, 256) in weight order."""
    return L.T.reshape(nb, 256 // size * size)


def _crumbs(L: np.ndarray) -> np.ndarray:
    """(nb, 256) 2-bit values -> (nb, 64) bytes: byte 32h + l holds weights 128h + l + 32k at bits 2k."""
    q = L.reshape(-1, 2, 4, 32).astype(np.uint8)
    return (q[:, :, 0] | q[:, :, 1] << 2 | q[:, :, 2] << 4 | q[:, :, 3] << 6).reshape(-1, 64)


def _six_bit_scales(values: np.ndarray, scale_max: np.ndarray) -> np.ndarray:
    """Sub-block scales or mins (nb, 8) -> 6-bit integers against 63 / the block's largest (uint8 as C)."""
    with np.errstate(all="ignore"):
        inv = np.where(scale_max > 0, F32(63) / scale_max, F32(0))
        q = _nearest(inv[:, None] * values).astype(np.int64) & 0xFF
    return np.minimum(q, 63).astype(np.uint8)


def _pack_k4_scales(ls: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """8 six-bit scales and 8 mins -> the 12 bytes Q4_K/Q5_K store (inverse of `_scale_min_k4`)."""
    low = ls[:, :4] | (ls[:, 4:] >> 4) << 6
    mid = lm[:, :4] | (lm[:, 4:] >> 4) << 6
    high = (ls[:, 4:] & 0x0F) | (lm[:, 4:] & 0x0F) << 4
    return np.concatenate([low, mid, high], axis=-1)


# ---------------------------------------------------------------- formats


def _scale_min_blocks(x, nmax: int, rmin: float, nstep: int):
    """The part Q4_K and Q5_K share: 8 sub-blocks of 32 with weights rms(x) + |x|, 6-bit scales and
    mins. Returns (d, dmin, packed scales (nb, 12), levels (nb, 256))."""
    nb = x.shape[0]
    xs = _sub_blocks(x, 32)
    av = np.sqrt(_seq_sum(xs * xs) / F32(32))
    scales, mins, L = _fit_scale_min(xs, av + np.abs(xs), nmax, rmin, 0.1, nstep, use_mad=False)
    scales, mins = scales.reshape(nb, 8), mins.reshape(nb, 8)
    max_scale = np.maximum(scales.max(axis=1), F32(0))
    max_min = np.maximum(mins.max(axis=1), F32(0))
    ls, lm = _six_bit_scales(scales, max_scale), _six_bit_scales(mins, max_min)
    d, dmin = (max_scale / F32(63)).astype(np.float16), (max_min / F32(63)).astype(np.float16)
    d_sub = (d.astype(F32)[:, None] * ls).reshape(-1)
    dm_sub = (dmin.astype(F32)[:, None] * lm).reshape(-1)
    L = _levels(_requantize(xs, L, d_sub, dm_sub, 0, nmax), nb, 32)
    head = np.concatenate([d.reshape(-1, 1).view(np.uint8), dmin.reshape(-1, 1).view(np.uint8)], axis=-1)
    return head, _pack_k4_scales(ls, lm), L


def quantize_q4_k(x: np.ndarray) -> np.ndarray:
    """(nb, 256) float32 -> (nb, 144): d f16 | dmin f16 | 12 bytes of scales | 128 bytes of nibbles."""
    head, scales, L = _scale_min_blocks(x, 15, -1.0, 20)
    q = L.reshape(-1, 4, 2, 32)  # chunk of 64 -> low nibbles: weights 0-31, high: 32-63
    qs = (q[:, :, 0] | q[:, :, 1] << 4).reshape(-1, 128)
    return np.concatenate([head, scales, qs], axis=-1)


def quantize_q5_k(x: np.ndarray) -> np.ndarray:
    """(nb, 256) -> (nb, 176): d | dmin | scales 12 | qh 32 (bit s of byte l = weight 32s + l's 5th bit) | qs."""
    head, scales, L = _scale_min_blocks(x, 31, -0.5, 15)
    q = L.reshape(-1, 4, 2, 32)
    qs = ((q[:, :, 0] & 0x0F) | (q[:, :, 1] & 0x0F) << 4).reshape(-1, 128)
    qh = np.packbits(L.reshape(-1, 8, 32) >> 4, axis=1, bitorder="little").reshape(-1, 32)
    return np.concatenate([head, scales, qh, qs], axis=-1)


def quantize_q6_k(x: np.ndarray) -> np.ndarray:
    """(nb, 256) -> (nb, 210): ql 128 (low 4 bits) | qh 64 (high 2 bits) | 16 int8 scales | d f16."""
    nb = x.shape[0]
    xs = _sub_blocks(x, 16)
    scales, L = _fit_scale(xs, 32)
    scales = scales.reshape(nb, 16)
    extreme = _signed_extreme(scales.T)
    zero = np.abs(extreme) < GROUP_MAX_EPS
    with np.errstate(all="ignore"):
        iscale = F32(-128) / extreme
        sc = np.minimum(127, _nearest(iscale[:, None] * scales)).astype(np.int8)
        d = (F32(1) / iscale).astype(np.float16)
    d_sub = (d.astype(F32)[:, None] * sc).reshape(-1)
    with np.errstate(all="ignore"):
        fresh = np.clip(_nearest(xs / d_sub), -32, 31) + 32
    L = _levels(np.where(d_sub != 0, fresh, L).astype(np.uint8), nb, 16)
    q = L.reshape(nb, 2, 4, 32)  # per half of 128: four runs of 32 weights
    ql = np.stack(
        [(q[:, :, 0] & 0x0F) | (q[:, :, 2] & 0x0F) << 4, (q[:, :, 1] & 0x0F) | (q[:, :, 3] & 0x0F) << 4], 2
    )
    qh = q[:, :, 0] >> 4 | (q[:, :, 1] >> 4) << 2 | (q[:, :, 2] >> 4) << 4 | (q[:, :, 3] >> 4) << 6
    out = np.concatenate([ql.reshape(nb, 128), qh.reshape(nb, 64), sc.view(np.uint8), _half(d)], axis=-1)
    out[zero] = 0
    return out


def quantize_q3_k(x: np.ndarray) -> np.ndarray:
    """(nb, 256) -> (nb, 110): hmask 32 (3rd bits) | qs 64 (low 2 bits) | 16 six-bit scales in 12 | d f16."""
    nb = x.shape[0]
    xs = _sub_blocks(x, 16)
    scales, L = _fit_scale_q3(xs)
    scales = scales.reshape(nb, 16)
    extreme = _signed_extreme(scales.T)
    with np.errstate(all="ignore"):
        iscale = F32(-32) / extreme
        ls = np.clip(_nearest(iscale[:, None] * scales), -32, 31) + 32
        d = np.where(extreme != 0, F32(1) / iscale, F32(0)).astype(np.float16)
    ls = np.where(extreme[:, None] != 0, ls, 0).astype(np.uint8)
    d_sub = (d.astype(F32)[:, None] * (ls.astype(F32) - 32)).reshape(-1)
    with np.errstate(all="ignore"):
        fresh = np.clip(_nearest(xs / d_sub), -4, 3) + 4
    L = _levels(np.where(d_sub != 0, fresh, L).astype(np.uint8), nb, 16)
    hmask = np.packbits((L > 3).reshape(nb, 8, 32), axis=1, bitorder="little").reshape(nb, 32)
    low = np.where(L > 3, L - 4, L)
    packed = np.concatenate([(ls[:, :8] & 0x0F) | (ls[:, 8:] & 0x0F) << 4, _crumb_column(ls >> 4)], axis=-1)
    return np.concatenate([hmask, _crumbs(low), packed, _half(d)], axis=-1)


def _crumb_column(high: np.ndarray) -> np.ndarray:
    """(nb, 16) 2-bit values -> (nb, 4): byte k holds value 4q + k at bits 2q."""
    h = high.reshape(-1, 4, 4)
    return h[:, 0] | h[:, 1] << 2 | h[:, 2] << 4 | h[:, 3] << 6


def quantize_q2_k(x: np.ndarray) -> np.ndarray:
    """(nb, 256) -> (nb, 84): 16 bytes of 4-bit scale | 4-bit min | qs 64 | d f16 | dmin f16."""
    nb = x.shape[0]
    xs = _sub_blocks(x, 16)
    scales, mins, L = _fit_scale_min(xs, np.abs(xs), 3, -0.5, 0.1, 15, use_mad=True)
    scales, mins = scales.reshape(nb, 16), mins.reshape(nb, 16)
    max_scale = np.maximum(scales.max(axis=1), F32(0))
    max_min = np.maximum(mins.max(axis=1), F32(0))
    with np.errstate(all="ignore"):
        ls = _nearest((F32(15) / max_scale)[:, None] * scales).astype(np.int64)
        lm = _nearest((F32(15) / max_min)[:, None] * mins).astype(np.int64)
    ls = np.where(max_scale[:, None] > 0, ls & 0xFF, 0)
    byte = np.where(max_min[:, None] > 0, (ls | lm << 4) & 0xFF, ls).astype(np.uint8)
    d = np.where(max_scale > 0, max_scale / F32(15), F32(0)).astype(np.float16)
    dmin = np.where(max_min > 0, max_min / F32(15), F32(0)).astype(np.float16)
    d_sub = (d.astype(F32)[:, None] * (byte & 0x0F)).reshape(-1)
    dm_sub = (dmin.astype(F32)[:, None] * (byte >> 4)).reshape(-1)
    L = _levels(_requantize(xs, L, d_sub, dm_sub, 0, 3), nb, 16)
    return np.concatenate([byte, _crumbs(L), _half(d), _half(dmin)], axis=-1)
