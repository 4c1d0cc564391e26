"""Inference precision: float32 (the default) or Keras ``mixed_bfloat16`` on the CPU.

Under ``mixed_bfloat16`` every layer computes in bfloat16 while its weights stay float32;
on a CPU with native bfloat16 instructions (x86 AVX512_BF16 or AMX, Arm BF16) convolutions
run about 1.6x faster for ResNet152V2. The model's output layers are kept float32, so the
sigmoid or softmax that gives the probability never rounds to bfloat16 (the same rule the
training used: see :func:`pneumonet_core.models.stages.classification_head`).

This module is plain Python (no Keras import): the package loader calls
:func:`architecture_for_precision` on the stored architecture, and the GUI asks
:func:`cpu_has_fast_bfloat16` whether to offer the setting.
"""

from __future__ import annotations

import functools
import json
import platform
import subprocess
import sys
from pathlib import Path

FLOAT32 = "float32"
BFLOAT16 = "bfloat16"
#: The precisions inference accepts (``--precision``).
PRECISIONS = (FLOAT32, BFLOAT16)
#: The Keras dtype policy each precision builds the model under.
KERAS_POLICY = {FLOAT32: "float32", BFLOAT16: "mixed_bfloat16"}
#: CPU flags (Linux /proc/cpuinfo) that mean native bfloat16 arithmetic.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


def check_precision(precision: str) -> str:
    """``precision`` if known, else a ValueError naming the choices."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    return precision


def _policy_name(dtype) -> str | None:
    """The policy name of a layer's ``dtype`` config entry (a string or a DTypePolicy dict)."""
    if isinstance(dtype, str):
        return dtype
    if isinstance(dtype, dict) and isinstance(dtype.get("config"), dict):
        return dtype["config"].get("name")
    return None


def _set_policy(config: dict, name: str) -> None:
    dtype = config.get("dtype")
    if isinstance(dtype, dict) and isinstance(dtype.get("config"), dict):
        dtype["config"]["name"] = name
    else:
        config["dtype"] = name


def _output_layer_names(model_config: dict) -> set[str]:
    """Names of the layers a functional model's outputs come from."""
    outputs = model_config.get("output_layers") or []
    if outputs and isinstance(outputs[0], str):  # one output: [name, node, tensor]
        outputs = [outputs]
    return {entry[0] for entry in outputs if isinstance(entry, list) and entry and isinstance(entry[0], str)}


def _mixed_layers(model_config: dict, keep_float32: set[str]) -> None:
    """Put every float32 layer of a functional model under mixed_bfloat16, except ``keep_float32``."""
    for layer in model_config.get("layers", []):
        config = layer.get("config", {})
        if layer.get("class_name") == "InputLayer" or config.get("name") in keep_float32:
            continue
        if isinstance(config.get("layers"), list):  # a nested model: its outputs are not the model's
            _mixed_layers(config, set())
        if _policy_name(config.get("dtype")) == "float32":
            _set_policy(config, KERAS_POLICY[BFLOAT16])


def architecture_for_precision(architecture: str, precision: str) -> str:
    """The stored architecture JSON rewritten to build the model for ``precision``.

    Packages store float32 architectures; one trained under a mixed policy is first
    brought back to float32. For bfloat16, every layer but the inputs and the model's
    output layers then computes in bfloat16 (weights stay float32, so the stored weights
    load unchanged).
    """
    check_precision(precision)
    for policy in ("mixed_bfloat16", "mixed_float16"):
        architecture = architecture.replace(f'"{policy}"', '"float32"')
    if precision == FLOAT32:
        return architecture
    document = json.loads(architecture)
    config = document.get("config", {})
    _mixed_layers(config, _output_layer_names(config))
    return json.dumps(document)


@functools.lru_cache(maxsize=1)
def cpu_bfloat16_features() -> tuple[str, ...]:
    """The native bfloat16 features of this CPU (empty when it has none or they cannot be read).

    Linux: the flags of /proc/cpuinfo (``avx512_bf16``, ``amx_bf16`` on x86; ``bf16`` in an
    Arm ``Features`` line). macOS on Apple silicon: ``sysctl hw.optional.arm.FEAT_BF16``.
    """
    if sys.platform.startswith("linux"):
        try:
            text = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return ()
        return cpuinfo_bfloat16_features(text)
    if sys.platform == "darwin" and platform.machine() == "arm64":
        try:
            out = subprocess.run(["sysctl", "-n", "hw.optional.arm.FEAT_BF16"], capture_output=True, text=True,
                                 timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ()
        return ("FEAT_BF16",) if out == "1" else ()
    return ()


def cpuinfo_bfloat16_features(cpuinfo: str) -> tuple[str, ...]:
    """The bfloat16 flags named in a /proc/cpuinfo text (its first processor's flags)."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            flags = set(value.split())
            return tuple(flag for flag in BF16_CPU_FLAGS if flag in flags)
    return ()


def cpu_has_fast_bfloat16() -> bool:
    """True when this CPU computes bfloat16 natively, so ``--precision bfloat16`` is worth offering."""
    return bool(cpu_bfloat16_features())


def slow_bfloat16_note(precision: str) -> str | None:
    """A one-line warning when bfloat16 is asked for on a CPU without native support, else None."""
    if precision != BFLOAT16 or cpu_has_fast_bfloat16():
        return None
    return ("this CPU has no native bfloat16 (AVX512_BF16, AMX or Arm BF16): bfloat16 inference is emulated "
            "and probably slower than float32")
