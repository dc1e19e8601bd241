"""The one row schema: valid rows pass, each kind of damage fails naming the field."""
import json

import pytest

from kitpose.bench.schema import load_rows, row_key, validate_row


@pytest.mark.parametrize("bench", ["model", "pipeline", "accuracy"])
def test_valid_rows_pass(row_factory, bench):
    row = row_factory(bench=bench)
    assert validate_row(row) is row


@pytest.mark.parametrize("field", ["run_id", "p99_ms", "throughput", "system", "batch"])
def test_missing_field_is_named(row_factory, field):
    row = row_factory()
    del row[field]
    with pytest.raises(ValueError, match=f"lacks field '{field}'"):
        validate_row(row)


def test_wrong_type_is_named(row_factory):
    row = {**row_factory(), "p50_ms": "fast"}
    with pytest.raises(ValueError, match="field 'p50_ms' is str"):
        validate_row(row)


def test_bool_is_not_an_int(row_factory):
    with pytest.raises(ValueError, match="field 'batch' is bool"):
        validate_row({**row_factory(), "batch": True})


@pytest.mark.parametrize("field,value", [("backend", "tflite"), ("precision", "fp8"), ("bench", "fps"),
                                         ("schema", "kitpose.bench/0"), ("timer", "wall")])
def test_values_outside_the_choices_fail(row_factory, field, value):
    with pytest.raises(ValueError, match=f"'{field}' must be one of"):
        validate_row({**row_factory(), field: value})


def test_pipeline_row_needs_every_stage(row_factory):
    row = row_factory(bench="pipeline")
    del row["stages"]["decode"]
    with pytest.raises(ValueError, match=r"lacks \['decode'\]"):
        validate_row(row)


def test_load_rows_names_file_and_line(tmp_path, row_factory):
    path = tmp_path / "rows.jsonl"
    bad = {**row_factory(), "device": "tpu"}
    path.write_text(json.dumps(row_factory()) + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(ValueError, match=r"rows.jsonl line 3: field 'device'"):
        load_rows(path)
    path.write_text("{not json\n")
    with pytest.raises(ValueError, match="line 1: not JSON"):
        load_rows(path)


def test_row_key_uses_batch_or_instances(row_factory):
    assert row_key(row_factory(size=8)) == ("model", "kitpose-w8-128", "torch", "fp32", 8)
    assert row_key(row_factory(bench="pipeline", backend="ort", size=4))[-1] == 4
