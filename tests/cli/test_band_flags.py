"""``--band`` with one or several values (issue 25): one value is today's
reader option, several reach the readers as ``bands``; ``--filter`` is its
alias for asassn; prepare (and so training) reads one band."""

import re

import pytest

from band_files import write_asassn
from helpers import run_cli
from rnngmm.cli import build_parser
from rnngmm.errors import InputError
from rnngmm.io.readers import check_reader_options


def parse(*argv):
    return build_parser().parse_args([str(a) for a in argv])


def flag_options(*extra):
    from rnngmm.cli.flag import config_from_args
    config = config_from_args(parse("flag", "--run_dir", "r", "--output", "f.ecsv", *extra))
    return config, check_reader_options(config.format, config.reader_options())


@pytest.mark.parametrize("extra, band, options", [
    (("--format", "ztf", "--band", "r"), "r", {"band": "r"}),
    (("--format", "ztf", "--band", "g", "r"), ("g", "r"), {"bands": ("g", "r")}),
    (("--format", "gaia", "--band", "G", "BP", "RP", "--zero_point", "25.7", "25.3", "24.7"),
     ("G", "BP", "RP"), {"bands": ("G", "BP", "RP"), "zero_point": (25.7, 25.3, 24.7)}),
    (("--format", "gaia", "--band", "G", "--zero_point", "25.7"), "G",
     {"band": "G", "zero_point": 25.7}),
    (("--format", "asassn", "--band", "V"), "V", {"filter": "V"}),
    (("--format", "asassn", "--band", "V", "g"), ("V", "g"), {"bands": ("V", "g")}),
])
def test_flag_band_values_reach_the_reader(extra, band, options):
    config, checked = flag_options(*extra)
    assert config.band == band
    assert checked == options


def test_filter_is_an_alias_of_band_for_asassn():
    config, checked = flag_options("--format", "asassn", "--filter", "V")
    assert config.filter == "V" and checked == {"filter": "V"}
    config, checked = flag_options("--format", "asassn", "--filter", "V", "g")
    assert config.filter == ("V", "g") and checked == {"bands": ("V", "g")}
    with pytest.raises(InputError, match="give --band or --filter, not both"):
        flag_options("--format", "asassn", "--filter", "V", "--band", "g")


def test_embed_and_report_pass_several_bands_on():
    from rnngmm.cli.embed import config_from_args as embed_config
    from rnngmm.cli.report import config_from_args as report_config
    embed = embed_config(parse("embed", "--run_dir", "r", "--output", "e.ecsv",
                               "--format", "ztf", "--band", "g", "r"))
    assert embed.band == ("g", "r") and embed.with_code
    report = report_config(parse("report", "--table", "t.ecsv", "--format", "gaia",
                                 "--band", "G", "RP", "--zero_point", "25", "24"))
    flag_config = report.flag_config("run")
    assert check_reader_options("gaia", flag_config.reader_options()) == {
        "bands": ("G", "RP"), "zero_point": (25.0, 24.0)}


@pytest.mark.parametrize("flags, message", [
    (("--format", "ztf", "--band", "g", "r"),
     "--band g r: prepare and training read one band: a model learns one band"),
    (("--format", "asassn", "--filter", "V", "g"), "--filter V g: prepare and training read "
                                                   "one band"),
    (("--format", "crts", "--band", "V", "R"), "--band V R: prepare and training read"),
])
def test_prepare_reads_one_band(tmp_path, capsys, flags, message):
    (tmp_path / "lc").mkdir()
    (tmp_path / "cat.csv").write_text("id\na\n")
    code = run_cli("prepare", "--catalog", tmp_path / "cat.csv", "--lightcurves",
                   tmp_path / "lc", "--output", tmp_path / "d.h5", *flags)
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert "several bands are read by flag, report, embed, similar and the API" in err
    assert not (tmp_path / "d.h5").exists()


def test_prepare_help_says_one_band(capsys):
    with pytest.raises(SystemExit):
        parse("prepare", "--help")
    text = re.sub(r"\s+", " ", capsys.readouterr().out)
    assert "prepare and training read one band: a model learns one band" in text
    with pytest.raises(SystemExit):
        parse("flag", "--help")
    text = re.sub(r"\s+", " ", capsys.readouterr().out)
    assert "--band BAND [BAND ...]" in text and "'{id}_{band}.tbl'" in text


def test_prepare_fills_the_band_field_with_its_one_band(tmp_path):
    from rnngmm.cli.prepare import config_from_args
    (tmp_path / "lc").mkdir()
    (tmp_path / "cat.csv").write_text("id\na\n")
    base = ("prepare", "--catalog", tmp_path / "cat.csv", "--lightcurves", tmp_path / "lc",
            "--output", tmp_path / "d.h5", "--format", "ztf", "--template", "{id}_{band}.tbl")
    config = config_from_args(parse(*base, "--band", "r"))
    assert config.reader_options == {"band": "r"}
    with pytest.raises(InputError, match=re.escape("has a '{band}' field")):
        config_from_args(parse(*base))


def test_similar_band_flags(tmp_path):
    from rnngmm.cli.similar import _check, read_query, reader_options
    from rnngmm.flagging.sources import BandedRecord
    path = write_asassn(tmp_path / "q.csv", {"V": 12, "g": 9})
    args = parse("similar", "--table", "t.ecsv", "--lightcurve", path, "--filter", "V", "g")
    _check(args)
    options = reader_options(args)
    assert options == {"bands": ("V", "g")}
    record = read_query(str(path), "asassn", options, 0.5)
    assert isinstance(record, BandedRecord) and list(record.bands) == ["V", "g"]
    assert record.period == 0.5 and record.missing == {}
    one = read_query(str(path), "asassn", reader_options(parse(
        "similar", "--table", "t.ecsv", "--lightcurve", path, "--band", "g")), float("nan"))
    assert len(one) == 4 and len(one[0]) == 9
    with pytest.raises(InputError, match="--band cannot be used here: --format crts"):
        _check(parse("similar", "--table", "t.ecsv", "--lightcurve", path, "--format",
                     "crts", "--band", "V", "R"))
