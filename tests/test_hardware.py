import torch

from slmlib import hardware


def test_bf16_needs_amx_not_just_avx512(monkeypatch):
    for flags, expected in (({"avx2", "avx512f"}, False), ({"avx512f", "avx512_bf16"}, False),
                            ({"amx_bf16", "amx_tile"}, True), ({"avx2"}, False)):
        monkeypatch.setattr(hardware, "cpu_flags", lambda flags=flags: frozenset(flags))
        assert hardware.bf16_supported("cpu") is expected
    # without /proc/cpuinfo only an AMX capability counts
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset())
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    assert hardware.bf16_supported("cpu") is False


def test_torch_threads_restores_the_count():
    before = torch.get_num_threads()
    with hardware.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_machine_names_the_processor_its_units_and_the_precision(monkeypatch):
    info = {"model name": "AMD EPYC", "cpu family": "26", "model": "2", "flags": "avx2 avx512f avx512_bf16"}
    monkeypatch.setattr(hardware, "_cpuinfo", lambda: info)
    line = hardware.machine()
    assert line.startswith("AMD EPYC (family 26, model 2), ")
    assert "AVX512-BF16" in line and "float32 on CPU" in line and f"torch {torch.__version__}" in line
    monkeypatch.setattr(hardware, "_cpuinfo", lambda: {**info, "flags": "avx512f amx_bf16"})
    assert ", AMX, bf16 autocast on CPU" in hardware.machine()
