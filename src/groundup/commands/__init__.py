"""The `groundup` commands, one module per area (`groundup <area> ...`).

A command is an interface, not a concept: it parses flags, loads a model and wires areas together
(`groundup ppl` loads through `generate` and scores through `eval`). That is why the commands sit in one
package above every area rather than inside the areas they call: no lower layer imports a higher one.
`groundup.cli` finds every module here and calls its `register(subparsers)`.
"""
