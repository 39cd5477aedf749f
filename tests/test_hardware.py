"""Hardware catalog: every bundled profile loads, carries sources, and matches DESIGN.md's numbers.

The headline table below is copied from DESIGN.md (Hardware profiles): dense BF16 TFLOPS,
HBM GB, HBM TB/s, TDP W and scale-up GB/s per direction. None means DESIGN.md gives no value.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dcsim.cli import app
from dcsim.errors import InputError
from dcsim.hardware import HARDWARE_DIR, HardwareProfile, catalog, get_profile
from dcsim.schema import Sourced, StrictModel, load_model

EXPECTED_NAMES = {
    "A100-80G",
    "A100-PCIe",
    "H100-SXM",
    "H200",
    "B200",
    "MI300X",
    "Ascend-910B",
    "Ascend-910C",
    "SN40L",
    "GB200",
}

# name: (kind, bf16 TFLOPS, HBM GB, HBM TB/s, TDP W, scale-up GB/s per direction)
DESIGN_TABLE = {
    "A100-80G": ("gpu", 312, 80, 2.04, 400, 300),
    "A100-PCIe": ("gpu", 312, 40, 1.555, 250, 31.5),  # PCIe 4.0 x16 per direction
    "H100-SXM": ("gpu", 989, 80, 3.35, 700, 450),
    "H200": ("gpu", 989, 141, 4.8, 700, 450),
    "B200": ("gpu", 2250, 180, 8.0, 1000, 900),
    "MI300X": ("gpu", 1307, 192, 5.3, 750, 448),
    "Ascend-910B": ("npu", 320, 64, 1.6, 350, None),
    "Ascend-910C": ("npu", 752, 128, 3.2, None, 392),
    "SN40L": ("rdu", 638, 64, None, None, None),
    "GB200": ("gpu", 2500, 186, 8.0, 1200, 900),  # NVIDIA GB200 NVL72 spec, per GPU
}

# DESIGN.md says these are not published: they must exist and be flagged low confidence.
MUST_BE_LOW = [
    ("Ascend-910C", "power.tdp_w"),
    ("SN40L", "power.tdp_w"),
    ("Ascend-910B", "power.tdp_w"),
]

# Where DESIGN.md / the brief name the server size.
ACCELERATORS_PER_SERVER = {name: 8 for name in EXPECTED_NAMES} | {"GB200": 4}  # NVL72 tray

RATED_POWER_W = {"A100-80G": 6500, "H100-SXM": 10200, "B200": 14300}


def _sourced_fields(obj: StrictModel, prefix: str = "") -> list[tuple[str, Sourced]]:
    out: list[tuple[str, Sourced]] = []
    for fname in type(obj).model_fields:
        val = getattr(obj, fname)
        path = f"{prefix}{fname}"
        if isinstance(val, Sourced):
            out.append((path, val))
        elif isinstance(val, StrictModel):
            out.extend(_sourced_fields(val, path + "."))
    return out


def _close(actual: float, expected: float, rel: float = 0.02) -> bool:
    return actual == pytest.approx(expected, rel=rel)


# ------------------------------------------------------------------ catalog contents


def test_catalog_has_all_profiles():
    assert set(catalog()) == EXPECTED_NAMES


def test_one_file_per_profile_and_unique_names():
    files = sorted(HARDWARE_DIR.glob("*.yaml"))
    names = [yaml.safe_load(f.read_text())["name"] for f in files]
    assert len(names) == len(set(names)) == len(EXPECTED_NAMES)


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_kind_and_vendor(name):
    prof = get_profile(name)
    assert prof.kind == DESIGN_TABLE[name][0]
    assert prof.vendor.strip()
    assert prof.description.strip()


@pytest.mark.parametrize("name", sorted(DESIGN_TABLE))
def test_design_headline_numbers(name):
    _, tflops, hbm_gb, hbm_tbps, tdp, scaleup = DESIGN_TABLE[name]
    p = get_profile(name)
    assert _close(p.compute.bf16_dense_tflops.value, tflops)
    assert _close(p.memory.hbm_gb.value, hbm_gb)
    if hbm_tbps is not None:
        assert _close(p.memory.hbm_tbps.value, hbm_tbps)
    if tdp is not None:
        assert _close(p.power.tdp_w.value, tdp)
    if scaleup is not None:
        assert _close(p.interconnect.scaleup_gBps_per_dir.value, scaleup)


def test_si_accessors_match_fields():
    p = get_profile("A100-80G")
    assert p.peak_flops == pytest.approx(312e12)
    assert p.hbm_bytes_per_s == pytest.approx(2.039e12)
    assert p.tdp_w == 400
    assert 0 < p.idle_w < p.tdp_w


def test_a100_clock_is_the_polca_reference():
    # POLCA's caps (1275/1110/1305 MHz, brake ~288 MHz) are relative to A100's 1410 MHz boost.
    p = get_profile("A100-80G")
    assert p.power.f_max_mhz.value == 1410
    assert p.power.f_min_mhz.value <= 288 < 1110 < p.power.f_max_mhz.value


def test_peak_flops_consistent_with_clock_for_published_parts():
    # Peak = units x clock x FLOP/clk: A100 108 SMs x 2048, MI300X 304 CUs x 2048 (dense BF16).
    a100 = get_profile("A100-80G")
    assert _close(108 * a100.power.f_max_mhz.value * 1e6 * 2048, a100.peak_flops, rel=0.01)
    mi = get_profile("MI300X")
    assert _close(304 * mi.power.f_max_mhz.value * 1e6 * 2048, mi.peak_flops, rel=0.01)


def test_sn40l_three_tier_memory():
    p = get_profile("SN40L")
    assert p.memory.sram_mib is not None and p.memory.ddr_gb is not None
    assert p.memory.sram_mib.value == 520
    assert _close(p.memory.ddr_gb.value, 1500, rel=0.03)
    # Tiers are ordered by capacity: SRAM < HBM < DDR.
    assert p.memory.sram_mib.value / 1024 < p.memory.hbm_gb.value < p.memory.ddr_gb.value


def test_ascend_910c_is_two_910b_class_dies():
    b, c = get_profile("Ascend-910B"), get_profile("Ascend-910C")
    assert c.memory.hbm_gb.value == 2 * b.memory.hbm_gb.value
    assert _close(c.memory.hbm_tbps.value, 2 * b.memory.hbm_tbps.value)
    assert c.interconnect.scaleup_domain.value == 384
    assert c.interconnect.nic_gbps.value == 400


@pytest.mark.parametrize("name, path", MUST_BE_LOW)
def test_unpublished_values_are_low_confidence(name, path):
    prof = get_profile(name)
    assert path in prof.low_confidence_fields()
    fields = dict(_sourced_fields(prof))
    assert "estimate" in fields[path].source.lower() or "uncertain" in fields[path].source.lower()


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_low_confidence_sources_say_why(name):
    # A low-confidence number must say it is an estimate/uncertain, never pose as a datasheet value.
    for path, s in _sourced_fields(get_profile(name)):
        if s.confidence == "low":
            text = s.source.lower()
            assert "estimate" in text or "uncertain" in text, f"{name}.{path}: {s.source}"


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_every_number_has_a_source_and_unit_sense(name):
    fields = _sourced_fields(get_profile(name))
    assert len(fields) >= 12
    for path, s in fields:
        assert s.source.strip(), f"{name}.{path} has an empty source"
        # Sourced already refuses negatives; a 0 in the catalog would be a placeholder, not a datum
        assert s.value > 0, f"{name}.{path} is 0"
    unitless = {"power.dvfs_alpha", "server.psu_efficiency"}
    for path, s in fields:
        if path not in unitless:
            assert s.unit.strip(), f"{name}.{path} has no unit"


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_physical_bounds(name):
    p = get_profile(name)
    pw = p.power
    assert 0 < pw.idle_w.value < 0.25 * pw.tdp_w.value
    assert 0 < pw.f_min_mhz.value < pw.f_max_mhz.value
    assert 2.0 <= pw.dvfs_alpha.value <= 3.0  # DESIGN.md: P_dyn ~ f^alpha, alpha 2-3
    assert 0.85 <= p.server.psu_efficiency.value <= 1.0
    assert p.server.accelerators == ACCELERATORS_PER_SERVER[name]
    assert p.interconnect.scaleup_domain.value >= p.server.accelerators
    eff = p.interconnect.scaleup_effective_gBps
    if eff is not None:
        assert eff.value <= p.interconnect.scaleup_gBps_per_dir.value
    if p.compute.fp8_dense_tflops is not None:
        assert _close(p.compute.fp8_dense_tflops.value, 2 * p.compute.bf16_dense_tflops.value)


@pytest.mark.parametrize("name, rated", sorted(RATED_POWER_W.items()))
def test_rated_server_power_covers_its_parts(name, rated):
    p = get_profile(name)
    assert p.server.rated_power_w is not None
    assert p.server.rated_power_w.value == rated
    parts = p.server.accelerators * p.tdp_w + p.server.host_power_w.value
    assert parts < rated  # the remainder is fans, switches and headroom


def test_get_profile_is_case_insensitive_and_rejects_unknown():
    assert get_profile("a100-80g").name == "A100-80G"
    with pytest.raises(InputError, match="unknown hardware 'TPU-v9'.*A100-80G"):
        get_profile("TPU-v9")


# ------------------------------------------------------------------ bad input


def _write_bad(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load((HARDWARE_DIR / "a100-80g.yaml").read_text())
    mutate(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _set(data: dict, dotted: str, value) -> None:
    *head, last = dotted.split(".")
    for key in head:
        data = data[key]
    data[last] = value


@pytest.mark.parametrize(
    "dotted, value, field, expect",
    [
        ("power.tdp_watts", {"value": 400, "source": "x"}, "power.tdp_watts", "unknown field"),
        ("compute.bf16_dense_tflops.value", "lots", "compute.bf16_dense_tflops.value", "number"),
        ("server.accelerators", "eight", "server.accelerators", "integer"),
        ("kind", "tpu", "kind", "gpu"),
        ("power.tdp_w.value", -400, "power.tdp_w.value", ">= 0"),
        ("memory.hbm_gb.value", float("nan"), "memory.hbm_gb.value", "finite"),
        ("server.accelerators", 0, "server.accelerators", "greater than 0"),
        ("power.idle_w.confidence", "sure", "power.idle_w.confidence", "low"),
    ],
)
def test_bad_profile_names_file_and_field(tmp_path, dotted, value, field, expect):
    path = _write_bad(tmp_path, lambda d: _set(d, dotted, value))
    with pytest.raises(InputError) as exc:
        load_model(HardwareProfile, path)
    err = exc.value
    assert err.file == str(path)
    assert err.field == field
    assert expect in err.message
    assert str(path) in str(err) and field in str(err)


def test_missing_source_is_rejected(tmp_path):
    path = _write_bad(tmp_path, lambda d: d["memory"]["hbm_tbps"].pop("source"))
    with pytest.raises(InputError) as exc:
        load_model(HardwareProfile, path)
    assert exc.value.field == "memory.hbm_tbps.source"


def test_malformed_yaml_names_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: X\ncompute: [unclosed\n")
    with pytest.raises(InputError) as exc:
        load_model(HardwareProfile, path)
    assert exc.value.file == str(path)
    assert "line" in exc.value.message


# ------------------------------------------------------------------ CLI

runner = CliRunner()


def test_cli_list_json():
    res = runner.invoke(app, ["hardware", "list", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert set(data) == EXPECTED_NAMES
    assert data["B200"]["compute"]["bf16_dense_tflops"]["value"] == 2250
    assert data["SN40L"]["power"]["tdp_w"]["confidence"] == "low"


def test_cli_list_table():
    res = runner.invoke(app, ["hardware", "list"])
    assert res.exit_code == 0, res.output
    # The 80-column test console may truncate long names, so check short names and each row's TFLOPS.
    for token in ("B200", "H200", "MI300X", "SN40L", "312", "2250", "1307.4", "752", "638"):
        assert token in res.stdout


def test_cli_show_a100():
    res = runner.invoke(app, ["hardware", "show", "A100-80G"])
    assert res.exit_code == 0, res.output
    assert "A100-80G" in res.stdout and "1410" in res.stdout and "312" in res.stdout


def test_cli_show_json_roundtrips_into_schema():
    res = runner.invoke(app, ["hardware", "show", "Ascend-910C", "--json"])
    assert res.exit_code == 0, res.output
    prof = HardwareProfile.model_validate(json.loads(res.stdout))
    assert prof == get_profile("Ascend-910C")


def test_cli_show_unknown_exits_2():
    res = runner.invoke(app, ["hardware", "show", "NoSuchChip"])
    assert res.exit_code == 2
    assert "unknown hardware" in res.output
    assert "Traceback" not in res.output
