"""What this machine computes well: the device and whether bfloat16 is native.

The local model backend and the embedder ask the same questions; they get the
same answers here. Both use CUDA when present, else the CPU.
"""

from __future__ import annotations


def best_device() -> str:
    import torch  # here, not above: reading the store or printing --help must not load torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def native_bfloat16(device: str) -> bool:
    """True where bfloat16 runs in hardware: it halves the bytes read per step
    (~2x faster generation, ~3x faster embedding on such CPUs); elsewhere it is
    emulated and slower than float32."""
    import torch

    if device == "cuda":
        return torch.cuda.is_bf16_supported()
    # AVX-512 alone is not enough: without AVX512_BF16 or AMX (e.g. on a Cascade Lake Xeon) bfloat16
    # is emulated, and MiniLM embedding and LoRA training ran 3x slower in it than in float32.
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)
