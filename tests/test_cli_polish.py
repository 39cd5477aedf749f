"""CLI polish (issue 19.6): examples in every help, enumerated options shown and completed,
shell completion installable, tables readable at 80 columns without cutting ids."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from dcsim.cli import CHOICES, app

runner = CliRunner()


def all_commands(group=None, prefix=("dcsim",)):
    """(path, click command) for the root, every group and every leaf command."""
    group = group or typer.main.get_command(app)
    yield prefix, group
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from all_commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


COMMANDS = list(all_commands())


def help_text(path: tuple[str, ...]) -> str:
    res = runner.invoke(app, [*path[1:], "--help"], env={"COLUMNS": "100"})
    assert res.exit_code == 0, res.output
    return res.output


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_every_help_has_examples_that_parse(path):
    text = help_text(path)
    assert "Examples:" in text, text
    lines = [ln.strip() for ln in text.split("Examples:", 1)[1].splitlines() if ln.strip()]
    invocations = [ln for ln in lines if ln.startswith(" ".join(path))]
    assert invocations, f"no `{' '.join(path)} ...` example in:\n{text}"
    # every --option an example uses exists on the command it runs
    cmds = dict(COMMANDS)
    for ln in invocations:
        words = shlex.split(ln)
        i = 1
        while i < len(words) and (*words[: i + 1],) in cmds:
            i += 1
        cmd = cmds[tuple(words[:i])]
        opts = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
        for w in words[i:]:
            if w.startswith("--"):
                assert w.split("=")[0] in opts, (ln, w, sorted(opts))


def test_choices_are_the_librarys_own():
    from dcsim.agents import SB3_ALGOS

    from dcsim.climate import presets
    from dcsim.cooling import CoolingConfig
    from dcsim.cooling_study import COOLING_TYPES
    from dcsim.network.collectives import ALGORITHMS, COLLECTIVES
    from dcsim.sweep import EXECUTORS
    from dcsim.validate import KINDS

    assert CHOICES["kind"] == ("auto", *KINDS)
    assert CHOICES["executor"] == tuple(EXECUTORS)
    assert CHOICES["collective"] == tuple(COLLECTIVES)
    assert CHOICES["algorithm"] == tuple(ALGORITHMS)
    assert CHOICES["algo"] == tuple(SB3_ALGOS)
    assert set(CHOICES["climate"]) == set(presets())
    assert CHOICES["cooling_type"] == tuple(COOLING_TYPES)
    assert CHOICES["economizer"] == typing_args(CoolingConfig.model_fields["economizer"].annotation)
    from dcsim.envs import ENV_IDS
    from dcsim.evaluation import resolve_env_id
    from dcsim.inference import LLMS

    # every env has its short name, and each resolves to that env
    assert [resolve_env_id(n) for n in CHOICES["env"]] == list(ENV_IDS)
    assert CHOICES["llm"] == tuple(LLMS)


def typing_args(t):
    import typing

    while typing.get_origin(t) is not typing.Literal:
        t = next(a for a in typing.get_args(t) if a is not type(None))
    return typing.get_args(t)


@pytest.mark.parametrize(
    ("path", "option", "shown"),
    [
        (("dcsim", "sweep"), "--executor", "[serial|local|dask]"),
        (("dcsim", "train"), "--algo", "maskable-ppo"),
        (("dcsim", "cooling", "year"), "--type", "[air|liquid]"),
        (("dcsim", "cooling", "year"), "--climate", "hot-humid"),
        (("dcsim", "validate"), "--kind", "hardware"),
        (("dcsim", "collective"), "--algorithm", "double-binary-tree"),
        (("dcsim", "evaluate"), "--env", "codesign"),
        (("dcsim", "train"), "--env", "flowsplit"),
        (("dcsim", "compare"), "--env", "placement"),
        (("dcsim", "reproduce", "polca"), "--model", "llama3-70b"),
    ],
)
def test_enumerated_options_show_their_choices(path, option, shown):
    text = help_text(path)
    flat = "".join(ch for ch in text if not ch.isspace() and ch != "│")
    assert option in text and shown in flat, text


def complete(words: str) -> list[str]:
    """What bash completion offers for the last word of `words` (click's completion protocol)."""
    env = dict(os.environ, _DCSIM_COMPLETE="complete_bash", COMP_WORDS=words)
    env["COMP_CWORD"] = str(len(words.split()) - (0 if words.endswith(" ") else 1))
    code = "from dcsim.cli import app; app(prog_name='dcsim')"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return out.stdout.split()


def test_shell_completion_offers_choices_and_can_be_installed():
    assert complete("dcsim sweep x.yaml --executor ") == ["serial", "local", "dask"]
    assert complete("dcsim cooling year --climate hot") == ["hot-dry", "hot-humid"]
    assert "polca" in complete("dcsim evaluate --agent po")
    assert complete("dcsim evaluate x.yaml --env co") == ["cooling", "codesign"]
    assert complete("dcsim reproduce polca --model llama3") == ["llama3-8b", "llama3-70b"]
    # hardware names come from the catalog
    assert complete("dcsim reproduce polca --hardware H") == ["H100-SXM", "H200"]
    assert complete("dcsim collective --hardware A100") == ["A100-80G", "A100-PCIe"]
    assert complete("dcsim topology show x.yaml --hardware B") == ["B200"]
    assert complete("dcsim hardware show MI") == ["MI300X"]
    root = help_text(("dcsim",))
    assert "--install-completion" in root and "--show-completion" in root
