"""Every command `groundup --help` lists, walked with bad values (issue 14.3).

- Every command (nested ones too: `train gpt`, `quant basics`, `gguf info`, ...) answers `--help`,
  refuses an unknown option with exit 2, a value outside an option's `choices` and text for a numeric
  option: what argparse guarantees once an option declares its type. A new command gets these checks
  by being registered; nothing here needs to know it.
- `BAD_VALUES` maps an option name to values that are wrong for it in every command that has it. Each
  must be a usage error: exit 2 and a message naming the option, before anything is loaded or trained
  (the walk runs the handlers in-process and fails if one reaches a model, a dataset, a subprocess or
  runs for more than a few seconds). To cover a new option, add a row; a value that is fine for one
  command's meaning of an option name but not another's belongs in `BAD_FOR`.
- `RUNTIME_ERRORS`: problems only the run can see (missing or undecodable files, folders that cannot
  be written, a GGUF file where a run was expected) exit 1 with exactly one line on stderr, and no
  command prints a traceback without --debug.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from groundup.cli import build_parser, main

BAD_VALUES: dict[str, list[str]] = {
    # sampling and generation
    "--max-tokens": ["0", "-5"],
    "--temperature": ["-1", "inf", "nan"],
    "--top-p": ["2", "0", "nan"],
    "--top-k": ["-1"],
    "--min-p": ["-0.1", "2"],
    "--repetition-penalty": ["0", "-1"],
    "--num-chars": ["0", "-5"],
    # execution
    "--threads": ["-1"],
    "--port": ["99999", "-1"],
    "--max-running": ["0"],
    "--kv-blocks": ["0"],
    "--block-size": ["0"],
    "--max-tokens-per-step": ["0"],
    "--num-speculative-tokens": ["0"],
    "--max-body-bytes": ["0"],
    "--max-prompt-chars": ["0"],
    "--max-batch-prompts": ["0"],
    "--tokenizer-threads": ["0"],
    "--shutdown-grace": ["-1"],
    # scoring
    "--tokens": ["-1"],
    "--context": ["0", "-1"],
    "--stride": ["0"],
    # training and the capstones
    "--epochs": ["0", "-3"],
    "--steps": ["0"],
    "--batch-size": ["0"],
    "--lr": ["-1", "nan", "inf"],
    "--ranks": ["0"],
    "--train-blocks": ["0"],
    "--max-len": ["0"],
    "--finetune-epochs": ["0"],
    "--rounds": ["0"],
    "--teacher-epochs": ["0"],
    "--adapt-epochs": ["0"],
    "--qat-epochs": ["0"],
    "--lora-lr": ["0", "-1"],
    "--alpha": ["nan", "inf"],
    "--report-chars": ["-1"],
    "--vocab-size": ["0", "-1"],
    # quantization
    "--bits": ["0", "99"],
    "--group-size": ["-1"],
    "--calib-samples": ["0"],
    "--calib-len": ["0"],
    "--eval-windows": ["-1"],
    # `train gpt` config fields (--key=value)
    "--max-iters": ["0", "-5"],
    "--n-layer": ["0"],
    "--n-head": ["0"],
    "--n-embd": ["0"],
    "--n-hidden": ["0"],
    "--dropout": ["1", "-0.1"],
    "--val-fraction": ["0", "1"],
    "--warmup-iters": ["-1"],
    "--lr-decay-iters": ["-1"],
    "--min-lr": ["-1"],
    "--weight-decay": ["-1"],
    "--beta1": ["1"],
    "--beta2": ["-0.1"],
    "--grad-clip": ["-1", "nan"],
    "--grad-accum": ["0"],
    "--eval-interval": ["0"],
    "--eval-iters": ["0"],
    "--log-interval": ["0"],
    "--patience": ["-1"],
    "--ckpt-interval": ["-1"],
    # drift monitoring and the theory studies
    "--bins": ["0", "1"],
}
# Values bad for one command's option only: (command, option) -> values.
BAD_FOR: dict[tuple[str, str], list[str]] = {
    ("ppl", "--context"): ["1"],
    ("compress distill", "--temperature"): ["0"],
    ("compress distill", "--alpha"): ["-0.1", "1.5"],  # a weight in [0, 1] here
    ("quantize", "--alpha"): ["-0.1", "1.5"],  # the migration strength in [0, 1]
    ("quant qlora", "--rank"): ["0"],
    ("quant qlora", "--heldout"): ["0"],
    ("sample", "--prompt"): [""],  # nothing to continue: an IndexError once
    ("monitor", "--alpha"): ["0", "1"],  # a test level in (0, 1)
    ("theory landscape", "--depth"): ["7", "21"],  # 6n + 2 layers
}
# Options that are each fine but cannot work together: (argv, the option the message names).
BAD_COMBINATIONS = [
    (["ppl", "--context", "32", "--stride", "64"], "--stride"),  # once reported 64 and used 32
    (["quantize", "--method", "rtn", "--group-size", "64", "--gguf", "m.gguf"], "--gguf"),
]
# Values that fill the other required arguments, so that only the bad one is wrong.
GOOD_VALUES = {
    "--vocab-size": "300",
    "--output": "tok.json",
    "-o": "tok.json",
    "--ckpt": "run",
    "--method": "rtn",
}


def commands(
    parser: argparse.ArgumentParser, path=()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """(command words, parser) of every leaf command below `parser`, as --help lists them."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for action in subs:
        for name, sub in action.choices.items():
            yield from commands(sub, (*path, name))


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Option string -> action, plus `train gpt`'s config fields (as actions without a type)."""
    found = {s: a for a in parser._actions for s in a.option_strings if s not in ("-h", "--help")}
    if type(parser).__name__ == "ConfigArgParser":
        from groundup.train.config import field_names

        for name in field_names():
            found.setdefault(f"--{name.replace('_', '-')}", argparse.Action([], name))
    return found


def filler(parser: argparse.ArgumentParser) -> list[str]:
    """Values for the required arguments (positional or not): a valid choice, or a placeholder."""
    args: list[str] = []
    for action in parser._actions:
        if not action.required or isinstance(action, argparse._SubParsersAction):
            continue
        flag = action.option_strings[-1:]  # [] for a positional
        value = sorted(action.choices)[0] if action.choices else GOOD_VALUES.get("".join(flag), "x")
        args += [*flag, value]
    return args


LEAVES = sorted(commands(build_parser()))


def bad_value_cases() -> Iterator[tuple[str, str, str]]:
    for path, parser in LEAVES:
        command = " ".join(path)
        for option in sorted(options(parser)):
            for value in BAD_VALUES.get(option, []) + BAD_FOR.get((command, option), []):
                yield command, option, value


class ReachedWork(AssertionError):
    """A handler got past its checks with a bad value: it loaded, trained or ran something."""


@pytest.fixture
def time_limit():
    """Fail a command that runs for more than 10 seconds (where signals can be used)."""

    def timeout(signum, frame):
        raise ReachedWork("the command ran for 10 s")

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def no_work(monkeypatch, time_limit):
    """Fail the test if a handler reaches a model, a dataset or a subprocess (or runs for 10 seconds)."""
    import subprocess

    import groundup.data.datasets
    import groundup.generate.loading
    import groundup.train.tasks
    import groundup.train.trainer

    def stop(what):
        def raiser(*args, **kwargs):
            raise ReachedWork(f"the command reached {what} with a bad value")

        return raiser

    for module, name in (
        (groundup.generate.loading, "load_model"),
        (groundup.train.trainer, "train"),
        (groundup.train.tasks, "load_mnist"),
        (groundup.data.datasets, "load_text"),
        (groundup.data.datasets, "load_mnist_5k"),
        (subprocess, "run"),
    ):
        monkeypatch.setattr(module, name, stop(f"{module.__name__}.{name}"))


def exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1


@pytest.mark.parametrize(("command", "option", "value"), list(bad_value_cases()))
def test_bad_value_is_a_usage_error_naming_the_option(
    command, option, value, no_work, capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # anything written by mistake lands here
    parser = dict((" ".join(p), q) for p, q in LEAVES)[command]
    argv = [*command.split(), *filler(parser), f"{option}={value}"]
    code = exit_code(argv)
    err = capsys.readouterr().err
    assert code == 2, f"{' '.join(argv)}: exit {code}, expected 2 (usage error); stderr: {err}"
    assert option in err and "Traceback" not in err, err


@pytest.mark.parametrize(("path", "parser"), LEAVES, ids=[" ".join(p) for p, _ in LEAVES])
def test_every_command_has_help_and_refuses_unknown_options_and_bad_choices(
    path, parser, no_work, capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert exit_code([*path, "--help"]) == 0
    assert "usage:" in capsys.readouterr().out
    assert exit_code([*path, *filler(parser), "--no-such-option=1"]) == 2
    for option, action in options(parser).items():
        if not option.startswith("--"):
            continue
        checks = []
        if action.choices:
            checks.append("no-such-choice")
        if getattr(action.type, "__name__", "") in ("int", "float"):
            checks.append("not-a-number")
        for value in checks:
            capsys.readouterr()
            argv = [*path, *filler(parser), option, value]
            assert exit_code(argv) == 2, " ".join(argv)
            assert option in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "option"), BAD_COMBINATIONS, ids=[" ".join(a) for a, _ in BAD_COMBINATIONS])
def test_options_that_cannot_work_together_are_refused_before_any_work(
    argv, option, no_work, capfd, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    code = exit_code(argv)
    err = capfd.readouterr().err
    assert code in (1, 2) and option in err and "Traceback" not in err, (code, err)


@pytest.mark.parametrize(("path", "parser"), LEAVES, ids=[" ".join(p) for p, _ in LEAVES])
def test_every_command_shows_its_defaults_in_help(path, parser):
    """--help shows every option's default (issue 14.8): the formatter adds it unless the help says it."""
    assert issubclass(parser.formatter_class, argparse.ArgumentDefaultsHelpFormatter)
    text = " ".join(parser.format_help().split())
    for action in parser._actions:
        if not action.option_strings or action.default in (None, False, [], argparse.SUPPRESS):
            continue
        assert f"default: {action.default}" in text or "default" in (action.help or ""), action.option_strings


def test_the_walk_covers_the_nested_commands():
    names = {" ".join(p) for p, _ in LEAVES}
    for expected in (
        "train gpt",
        "quant basics",
        "compress prune",
        "grad demo",
        "gguf info",
        "tokenize train",
    ):
        assert expected in names
    assert len(list(bad_value_cases())) > 100


@pytest.fixture
def files(tmp_path):
    """A missing path, a Latin-1 text file, a non-GGUF text file, a GGUF-looking file, an unwritable folder."""
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9\n".encode("latin-1"))
    text = tmp_path / "plain.txt"
    text.write_text("hello world\n" * 10)
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF" + bytes(60))
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where a folder should be")
    return {
        "missing": str(tmp_path / "missing"),
        "latin1": str(latin1),
        "text": str(text),
        "gguf": str(gguf),
        "unwritable": str(blocker / "sub"),
        "new": str(tmp_path / "new" / "run"),
    }


RUNTIME_ERRORS = [
    (["gguf", "info", "{missing}"], "expected a GGUF model file"),
    (["gguf", "info", "{text}"], "invalid GGUF"),
    (["gguf", "convert", "{missing}", "{new}"], "expected a GGUF model file"),
    (["tokenize", "stats", "{missing}"], "no such file"),
    (["tokenize", "stats", "{latin1}"], "not UTF-8"),
    (["tokenize", "train", "{latin1}", "--vocab-size", "300", "-o", "{new}"], "not UTF-8"),
    (["tokenize", "train", "{text}", "--vocab-size", "300", "-o", "{unwritable}/tok"], "cannot write"),
    (["tokenize", "encode", "hi", "--tokenizer", "{missing}"], "neither a tokenizer name"),
    (["sample", "--ckpt", "{gguf}"], "GGUF model file, not a training run"),
    (["sample", "--ckpt", "{missing}"], "no checkpoint"),
    (["train", "gpt", "--preset", "tiny", "--data-path", "{missing}", "--out", "{new}"], "does not exist"),
    (["train", "gpt", "--preset", "tiny", "--data-path", "{latin1}", "--out", "{new}"], "not UTF-8"),
    (["train", "gpt", "--preset", "tiny", "--out", "{text}"], "is a file"),
    (["train", "gpt", "--preset", "tiny", "--out", "{unwritable}"], "cannot write"),
    (["train", "ladder", "--only", "mlp", "--out", "{unwritable}"], "cannot write"),
    (["classic", "benchmark", "--out", "{unwritable}"], "cannot write"),
    (["quant", "basics", "--out", "{unwritable}"], "cannot write"),
    (["quant", "qat-vs-ptq", "--out", "{unwritable}"], "cannot write"),
    (["compress", "prune", "--out", "{unwritable}"], "cannot write"),
    (["compress", "lora", "--out", "{unwritable}"], "cannot write"),
    (["grad", "demo", "xor", "--out", "{unwritable}"], "cannot write"),
    (["quantize", "--method", "rtn", "--out", "{unwritable}"], "cannot write"),
    (["quantize", "--method", "rtn", "--group-size", "32", "--gguf", "{unwritable}/m.gguf"], "cannot write"),
    (["bench", "classic", "--out", "{unwritable}"], "cannot write"),
    (["generate", "hi", "--model", "{missing}"], "neither a GGUF model file nor"),
    (["ppl", "--model", "{text}"], "neither a GGUF model file nor"),
    (["data", "no-such-dataset"], "unknown asset or dataset"),
    (["progress", "--results", "{missing}", "--markdown", "{new}"], "no test results"),
]


@pytest.mark.parametrize(
    ("argv", "message"), RUNTIME_ERRORS, ids=[" ".join(a[:2]) + f" {m}" for a, m in RUNTIME_ERRORS]
)
def test_runtime_problem_is_one_line_and_exit_1(argv, message, files, time_limit, capfd):
    code = exit_code([a.format(**files) for a in argv])
    err = capfd.readouterr().err
    assert code == 1, f"exit {code}, expected 1; stderr: {err}"
    assert err.count("\n") == 1 and err.startswith("groundup: error: ") and message in err, err
    assert "Traceback" not in err and "[Errno" not in err
    assert not Path(files["new"]).parent.exists()  # a failed command leaves no empty output folder
