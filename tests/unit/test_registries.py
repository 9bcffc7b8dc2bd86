"""The registries of formats, data sources and families: every name the catalog (or the family
knob) lists has its class, and what a name means is read from that class."""

from __future__ import annotations

import pytest

from cnntune.catalog import FORMATS as NAMES
from cnntune.errors import ConfigError, ModelFileError
from cnntune.formats.registry import FORMATS, detect, format_named, model_file


def test_every_catalog_format_has_its_class_and_file():
    assert tuple(FORMATS) == NAMES
    assert len({f.file for f in FORMATS.values()}) == len(NAMES)
    assert all(f.runtime for f in FORMATS.values())


@pytest.mark.parametrize("name", NAMES)
def test_a_model_file_or_export_folder_is_detected_as_its_format(tmp_path, name):
    fmt = FORMATS[name]
    export = tmp_path / "out"
    export.mkdir()
    (export / fmt.file).mkdir() if fmt.suffix is None else (export / fmt.file).write_bytes(b"")
    assert detect(export) is fmt
    if fmt.suffix is None:  # the SavedModel folder itself
        (export / fmt.file / "saved_model.pb").write_bytes(b"")
        assert detect(export / fmt.file) is fmt and model_file(export / fmt.file) == \
            export / fmt.file
    else:
        assert detect(export / fmt.file) is fmt
        assert model_file(export) == export / fmt.file


def test_unknown_formats_and_quantize_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="format 'pt' is unknown; use one of keras"):
        format_named("pt")
    with pytest.raises(ModelFileError, match=r"unknown format '\.pt'; give a \.keras, "
                                             r"\.tflite or \.onnx file"):
        detect(tmp_path / "m.pt")
    with pytest.raises(ModelFileError, match="a folder without an exported model"):
        detect(tmp_path)
    with pytest.raises(ConfigError, match="--quantize int8 applies to --format tflite only"):
        format_named("onnx").check("int8")
    with pytest.raises(ConfigError, match="quantize 'int4' is unknown"):
        format_named("tflite").check("int4")
    format_named("tflite").check("int8")  # the one that quantizes


def test_every_catalog_data_source_has_its_class_and_a_path_picks_one(tmp_path):
    from pathlib import Path

    from cnntune.catalog import DATA_SOURCES, EMBEDDED, FILE_SOURCES
    from cnntune.data.registry import SOURCES, source_for, source_named
    from cnntune.errors import DataError

    assert tuple(SOURCES) == DATA_SOURCES
    assert {n for n, s in SOURCES.items() if s.needs_path} == set(FILE_SOURCES)
    assert {n: s.task for n, s in SOURCES.items() if s.task} == EMBEDDED
    assert source_for(Path("a.npz")).name == "npz" and source_for(Path("a.csv")).name == "csv"
    assert source_for(tmp_path).folder and source_for(None).name == "digits"
    assert source_for(None, "sequence").name == "waveforms"
    with pytest.raises(DataError, match="data source 'parquet' is unknown; use digits"):
        source_named("parquet")


def test_every_family_has_its_builder_module_and_reads_only_known_knobs():
    from importlib.util import find_spec

    from cnntune.knobs import DECODERS, FAMILIES, FAMILY, KNOBS

    assert KNOBS["family"].choices == FAMILIES == tuple(FAMILY)
    for f in FAMILY.values():
        assert find_spec(f.module) is not None, f.module
        assert f.uses <= set(KNOBS) - {"family"}, f.uses - set(KNOBS)
        assert f.takes in ("image", "sequence")
    assert DECODERS == ("unet",)


@pytest.mark.parametrize("url, kind, concurrent, here, folder", [
    ("journal:mlruns/optuna.journal", "journal", True, True, "mlruns"),
    ("journal:///abs/j.journal", "journal", True, True, "/abs"),
    ("sqlite:///db/optuna.db", "sqlite", False, True, "db"),
    ("sqlite:///:memory:", "sqlite", False, True, None),
    ("postgresql://u:secret@host/db", "database", True, False, None),
    ("kt-studies", "folder", False, True, "kt-studies"),
])
def test_a_storage_url_is_read_once_into_a_store(url, kind, concurrent, here, folder):
    from pathlib import Path

    from cnntune.tracking.stores import Store

    s = Store.of(url)
    assert (s.kind, s.concurrent, s.on_this_machine) == (kind, concurrent, here)
    assert s.folder == (None if folder is None else Path(folder))
    assert s.optuna == (kind != "folder") and "secret" not in str(s)
    if kind in ("journal", "sqlite") and s.path is not None:
        assert Path(s.absolute().split(":", 1)[1].lstrip("/")).is_absolute() or \
            s.absolute().startswith(("journal:/", "sqlite:////"))
        assert s.missing  # no such file here
    else:
        assert s.absolute() == url and not s.missing
