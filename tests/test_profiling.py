import json

import pytest

from benchmarks.harness import Report
from groundup.profiling import PeakRSS, measure


def test_measure_counts_repeats_and_orders_stats():
    calls = []
    timing = measure(lambda: calls.append(1), warmup=2, repeats=3)
    assert len(calls) == 5 and len(timing.times_s) == 3
    assert timing.min_s <= timing.median_s


def test_peak_rss_sees_a_large_allocation():
    with PeakRSS() as mem:
        touch_fresh_pages(64 * 2**20)  # 64 MiB: a malloc could reuse pages an earlier test left resident
    assert mem.peak_mb > 40


def test_peak_rss_sees_a_short_lived_allocation_exactly_through_the_kernel():
    """The kernel's high-water mark sees an allocation freed before any sampler could wake up, and an
    inner block's reset does not hide the outer block's earlier peak."""
    with PeakRSS() as outer:
        if outer.method != "kernel":
            pytest.skip("no /proc/self/clear_refs here: PeakRSS falls back to sampling")
        touch_fresh_pages(96 * 2**20)  # 96 MiB, touched and unmapped at once
        with PeakRSS() as inner:
            touch_fresh_pages(32 * 2**20)
    assert inner.method == "kernel" and 28 < inner.peak_mb < 90
    assert outer.peak_mb > 90


def touch_fresh_pages(n_bytes: int) -> None:
    """Map, write and unmap `n_bytes` of new anonymous memory. Unlike a malloc, which may reuse heap
    pages that are already resident, a fresh mapping must raise the resident set by its size."""
    import mmap

    with mmap.mmap(-1, n_bytes) as block:
        for offset in range(0, n_bytes, mmap.PAGESIZE):
            block[offset] = 1


def test_measure_rejects_zero_repeats():
    with pytest.raises(ValueError, match="repeats"):
        measure(lambda: None, repeats=0)


def test_report_compare_table_and_json(tmp_path):
    report = Report("unit")
    row = report.compare(
        "sum",
        lambda: sum(range(1000)),
        lambda: sum(range(20000)),
        peer_name="slow",
        work=1000,
        unit="items",
        repeats=3,
    )
    assert row["speedup"] > 1 and row["ours_items_per_s"] > row["peer_items_per_s"]
    assert "speedup" in report.table()
    saved = json.loads(report.save(tmp_path).read_text())
    assert saved["rows"][0]["case"] == "sum" and "load_avg_1m" in saved["env"]
