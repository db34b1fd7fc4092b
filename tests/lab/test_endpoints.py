"""Each lab page's JSON endpoint on its own, over a tiny Llama and a character vocabulary."""

from __future__ import annotations

import json

import pytest


@pytest.mark.module("3.2")
def test_tokenize_returns_each_tokenizers_pieces(lab_client):
    data = lab_client.post("/api/tokenize", json={"text": "hi there"}).json()
    (row,) = data["tokenizers"]
    assert (data["chars"], row["name"], row["count"]) == (8, "chars", 8)
    assert "".join(t["text"] for t in row["tokens"]) == "hi there"
    assert row["tokens"][0] == {"id": string_index("h"), "text": "h", "hex": "68", "piece": "h"}


def string_index(c: str) -> int:
    import string

    return string.printable.index(c)


@pytest.mark.module("3.2")
def test_tokenize_refuses_a_text_too_long(lab_client):
    response = lab_client.post("/api/tokenize", json={"text": "a" * 20_001})
    assert response.status_code == 422


@pytest.mark.module("2.1")
def test_next_token_filters_mark_what_they_remove(lab_client):
    body = {"prompt": "abc", "temperature": 1.0, "top_k": 5, "top_p": 1.0, "show": 10}
    data = lab_client.post("/api/next-token", json=body).json()
    rows = data["tokens"]
    assert data["kept"] == 5 and len(rows) == 10
    assert [r["removed_by"] for r in rows] == [None] * 5 + ["top-k"] * 5
    assert sum(r["p_final"] for r in rows) == pytest.approx(1.0, abs=1e-5)
    assert rows[0]["p_model"] >= rows[1]["p_model"]


@pytest.mark.module("2.1")
def test_next_token_top_p_keeps_the_nucleus(lab_client):
    data = lab_client.post("/api/next-token", json={"prompt": "abc", "top_p": 0.3, "show": 50}).json()
    kept = [r for r in data["tokens"] if r["removed_by"] is None]
    assert len(kept) == data["kept"] >= 1
    mass_before_last = sum(r["p_model"] for r in kept[:-1])
    assert mass_before_last < 0.3  # the last kept token is the one that crosses p
    assert all(r["removed_by"] == "top-p" for r in data["tokens"][len(kept) :])


@pytest.mark.module("2.1")
def test_next_token_temperature_zero_keeps_one_token(lab_client):
    data = lab_client.post("/api/next-token", json={"prompt": "abc", "temperature": 0}).json()
    assert data["kept"] == 1 and data["tokens"][0]["p_final"] == 1.0


def test_a_bad_value_is_a_400_naming_it(lab_client):
    response = lab_client.post("/api/attention", json={"text": "abc", "layer": 7})
    assert response.status_code == 400 and "layer" in response.json()["error"]
    response = lab_client.post("/api/next-token", json={"prompt": "abc", "top_p": 0})
    assert response.status_code == 422


@pytest.mark.module("0.5")
def test_attention_rows_are_causal_distributions(lab_client):
    data = lab_client.post("/api/attention", json={"text": "hello", "layer": 1}).json()
    assert (data["n_layers"], data["n_heads"], data["layer"], data["tokens"]) == (2, 4, 1, list("hello"))
    for head in data["heads"]:
        for i, row in enumerate(head):
            assert sum(row) == pytest.approx(1.0, abs=1e-3)
            assert all(w == 0 for w in row[i + 1 :])  # a token never reads the future
    assert len(data["entropy"]) == 2 and len(data["entropy"][0]) == 4


@pytest.mark.module("2.1")
def test_chat_streams_tokens_then_a_summary(lab_client):
    body = {"messages": [{"role": "user", "content": "hello"}], "temperature": 0, "max_tokens": 6}
    with lab_client.stream("POST", "/api/chat", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]
    *tokens, last = events
    assert [e["tokens"] for e in tokens] == list(range(1, 7))
    assert last == {"done": True, "finish_reason": "length", "tokens": 6, "prompt_tokens": 5}
    assert all(e["tokens_per_s"] >= 0 for e in tokens)


@pytest.mark.module("2.2")
def test_kv_blocks_fill_and_free(lab_client):
    body = {
        "prompts": ["abcdefgh", "abcdefgh and more", "xyz"],
        "num_blocks": 16,
        "block_size": 4,
        "max_tokens": 6,
    }
    data = lab_client.post("/api/kv-blocks", json=body).json()
    steps = data["steps"]
    used = [s["used"] for s in steps]
    assert max(used) > 0 and used[-1] == 0  # the pool fills, then every block is freed
    assert len(data["requests"]) == 3 and all(len(r["output"]) > 0 for r in data["requests"])
    for snap in steps:
        assert len(snap["blocks"]) == 16 and snap["used"] + snap["free"] == 16
        held = {b["id"] for b in snap["blocks"] if b["owners"]}
        tables = {b for s in snap["sequences"] for b in s["block_table"]}
        assert held == tables
    assert steps[-1]["prefix_hits"] >= 2  # "abcdefgh" is two full blocks shared with the second prompt


def test_progress_reads_the_results_file(tmp_path):
    from groundup.lab.dashboard import progress_payload

    results = tmp_path / "results.json"
    tests = [
        {"nodeid": "t.py::a", "modules": ["0.1"], "outcome": "passed"},
        {"nodeid": "t.py::b", "modules": ["0.2"], "outcome": "failed"},
    ]
    results.write_text(json.dumps({"generated": "now", "tests": tests}))
    data = progress_payload(results)
    modules = {m["id"]: m for t in data["tracks"] for m in t["modules"]}
    assert modules["0.1"]["status"] == "verified" and modules["0.2"]["status"] == "failing"
    assert modules["0.2"]["failing"] == ["t.py::b"] and modules["0.3"]["status"] == "not started"


def test_progress_without_results_says_how_to_get_them(tmp_path):
    from groundup.lab.dashboard import progress_payload

    data = progress_payload(tmp_path / "missing.json", committed=tmp_path / "no-dashboard.md")
    assert "make test" in data["results"]["source"]
    assert all(m["status"] == "not started" for t in data["tracks"] for m in t["modules"])


def test_progress_falls_back_to_the_committed_dashboard(tmp_path):
    from collections import Counter

    from groundup.curriculum.progress import module_progress, render_markdown
    from groundup.curriculum.results import CheckResult
    from groundup.lab.dashboard import progress_payload

    checks = [CheckResult("a", ("0.1",), "passed"), CheckResult("b", ("0.1",), "skipped")]
    checks += [CheckResult("c", ("1.2",), "failed")]
    markdown = tmp_path / "PROGRESS.md"
    markdown.write_text(render_markdown(module_progress(checks), {"generated": "2026-01-01T00:00:00"}))
    data = progress_payload(tmp_path / "missing.json", committed=markdown)
    modules = {m["id"]: m for t in data["tracks"] for m in t["modules"]}
    assert modules["0.1"]["status"] == "incomplete" and Counter(modules["0.1"]["counts"]) == Counter(
        passed=1, skipped=1
    )
    assert modules["1.2"]["status"] == "failing" and modules["0.2"]["counts"] == {}
    assert (
        data["results"]["generated"] == "2026-01-01T00:00:00" and "PROGRESS.md" in data["results"]["source"]
    )


def test_pages_are_served(lab_client):
    for page in (
        "/",
        "/tokenizer.html",
        "/next-token.html",
        "/attention.html",
        "/chat.html",
        "/serving.html",
    ):
        response = lab_client.get(page)
        assert response.status_code == 200 and "lab.js" in response.text, page
    assert "postJSON" in lab_client.get("/lab.js").text


@pytest.mark.module("3.2")
def test_the_explorers_three_tokenizers_side_by_side(smollm2_tokenizer):
    from groundup.lab.tokens import compare_tokenizers
    from groundup.tokenizers.loaders import load_named

    text = "Tokenizers differ: 你好 wörld <|endoftext|>"
    tokenizers = {
        "cl100k": load_named("cl100k"),
        "smollm2": smollm2_tokenizer,
        "minilm": load_named("minilm"),
    }
    data = compare_tokenizers(tokenizers, text)
    rows = {row["name"]: row for row in data["tokenizers"]}
    reference = offline_cl100k().encode(text, allowed_special="all")
    assert [t["id"] for t in rows["cl100k"]["tokens"]] == reference
    assert rows["cl100k"]["tokens"][-1]["piece"] == "<|endoftext|>"
    for name in ("cl100k", "smollm2"):  # byte-level BPE: the pieces' bytes are the text's bytes
        joined = bytes.fromhex("".join(t["hex"].replace(" ", "") for t in rows[name]["tokens"]))
        assert joined == text.encode("utf-8"), name
    assert rows["minilm"]["tokens"][0]["piece"] == "token"  # WordPiece lower-cases and splits words


def offline_cl100k():
    """tiktoken's own cl100k_base definition with its rank file read from the bundled copy."""
    from unittest import mock

    openai_public = pytest.importorskip("tiktoken_ext.openai_public")
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    from groundup.data.assets import cl100k_ranks_path

    def local_ranks(url, expected_hash=None):
        return load_tiktoken_bpe(str(cl100k_ranks_path()), expected_hash)

    with mock.patch.object(openai_public, "load_tiktoken_bpe", local_ranks):
        return tiktoken.Encoding(**openai_public.cl100k_base())
