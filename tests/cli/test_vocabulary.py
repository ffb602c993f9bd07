"""One flag vocabulary: --output and --pass_through everywhere, old spellings warn;
a run's config.json replays with --from_config."""

import json

import pytest

from rnngmm.cli import build_parser


def parse(*argv):
    return build_parser().parse_args([str(a) for a in argv])


@pytest.mark.parametrize("old, new, expected", [
    (("flag", "--run_dir", "r", "--out", "f.ecsv"),
     ("flag", "--run_dir", "r", "--output", "f.ecsv"), ("output", "f.ecsv")),
    (("score", "--run_dir", "r", "--out_name", "s"),
     ("score", "--run_dir", "r", "--output", "s"), ("output", "s")),
    (("prepare", "--catalog", "c", "--lightcurves", "l", "--output", "o.h5",
      "--extra_cols", "a,b"),
     ("prepare", "--catalog", "c", "--lightcurves", "l", "--output", "o.h5",
      "--pass_through", "a", "b"), ("pass_through", ["a", "b"])),
    (("flag", "--run_dir", "r", "--output", "f.ecsv", "--extra_cols", "x"),
     ("flag", "--run_dir", "r", "--output", "f.ecsv", "--pass_through", "x"),
     ("pass_through", ["x"])),
])
def test_old_spellings_still_work_and_warn(old, new, expected, capsys):
    name, value = expected
    with pytest.warns(FutureWarning, match="deprecated"):
        parsed_old = parse(*old)
    assert "deprecated; use" in capsys.readouterr().err
    assert getattr(parsed_old, name) == getattr(parse(*new), name) == value


def test_every_command_has_the_logging_flags():
    for argv in (("simulate", "--output", "x"), ("prepare", "--catalog", "c",
                 "--lightcurves", "l", "--output", "o"), ("train", "--data", "d"),
                 ("score", "--run_dir", "r"), ("flag", "--run_dir", "r"),
                 ("loco", "gather", "--results_dir", "r"), ("embed", "--run_dir", "r"),
                 ("similar", "--table", "t", "--ids", "a"), ("map", "--table", "t", "--output", "m.png"),
                 ("report", "--table", "t")):
        parsed = parse(*argv, "--quiet")
        assert parsed.quiet and not parsed.verbose and not parsed.log_all_ranks


@pytest.mark.slow
def test_from_config_replays_a_run_and_flags_override(tiny_run_dir, tmp_path):
    from rnngmm.cli.train import config_from_args
    stored = json.loads((tiny_run_dir / "config.json").read_text())["train"]
    replay = config_from_args(parse("train", "--from_config", tiny_run_dir / "config.json",
                                    "--run_name", "replayed", "--seed", "7"))
    assert replay.run_name == "replayed" and replay.seed == 7
    for key, value in stored.items():
        if key not in ("run_name", "seed"):
            assert getattr(replay, key) == value, key
    # a run directory works as well as its config.json
    assert config_from_args(parse("train", "--from_config", tiny_run_dir)).data == stored["data"]
