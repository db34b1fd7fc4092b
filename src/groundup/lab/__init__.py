"""The browser lab (`groundup lab`): pages that let a learner play with the pieces the library builds.

Each page is static HTML with a little JavaScript (`pages/`, no build step) that fetches its data from
one JSON endpoint of `app.py`; every endpoint is a thin wrapper over a function in this package, and
those functions call the library (tokenizers, the Llama, sampling filters, the serving engine), so
nothing a page shows is computed only in the browser:

    tokens.py      token boundaries and ids of one text under several tokenizers side by side
    next_token.py  the next-token distribution and which tokens survive temperature / top-k / top-p
    attention.py   per layer / head attention weights of a sentence
    chat.py        a chat reply streamed token by token with the running tokens/s
    kv_blocks.py   the serving engine's paged KV blocks, step by step, as requests arrive and finish
    dashboard.py   the curriculum dashboard from the last test results
    state.py       the model and tokenizers, loaded once on first use
"""
