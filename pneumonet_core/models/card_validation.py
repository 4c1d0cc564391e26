"""Every field of a model card checked for type and range, and against the architecture.

The integrity manifest and the content hash say a package was not changed after it was
sealed; they say nothing about whether what was sealed makes sense. Anyone can seal (or
re-seal) a package, so a card is checked as input from a stranger: a NaN calibration
slope would turn every answer into ``p=nan``, a threshold of 0 into one answer for
every film, three class names on a one-output (binary) head or an input size that is
not the network's into answers about something else. :func:`validate_card` refuses such a
card in one line; it is called once, by ``integrity.verify``, so every reader (loading,
``info``, listings, signing) gets the same check.

The JSON files of a package are bounded too (:func:`check_json_member`): at most
:data:`MAX_JSON_BYTES` each and :data:`MAX_JSON_DEPTH` levels of nesting, checked before
they are parsed, so a crafted file is refused in one line instead of a RecursionError or
gigabytes of parsing.
"""

from __future__ import annotations

import json
import math
import re

#: The largest JSON file a package may hold (ResNet152V2's architecture is 0.5 MB).
MAX_JSON_BYTES = 16 << 20
#: The deepest nesting of a package's JSON (the bundled models reach about 10).
MAX_JSON_DEPTH = 64
#: Sides of the network's input, in pixels: below, a chest film shows nothing of a lung.
MIN_INPUT_SIDE, MAX_INPUT_SIDE = 64, 2048
_CALIBRATIONS = ("temperature", "platt", "isotonic")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class CardError(ValueError):
    """A card field that is out of range or of the wrong kind; the message is one line."""


def check_json_member(name: str, data: bytes) -> None:
    """Refuse a JSON member that is too large or nests too deep, before it is parsed."""
    if len(data) > MAX_JSON_BYTES:
        raise CardError(f"{name} is {len(data):,} bytes, more than the {MAX_JSON_BYTES:,}-byte limit")
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', data)):
        depth += 1 if match.group() in (b"[", b"{") else -1
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            raise CardError(f"{name} nests deeper than {MAX_JSON_DEPTH} levels")


def _number(value, what: str, low: float | None = None, high: float | None = None, open_low: bool = False,
            open_high: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CardError(f"{what} is {value!r}, not a finite number")
    if low is not None and (value < low or (open_low and value == low)):
        raise CardError(f"{what} is {value!r}, out of range")
    if high is not None and (value > high or (open_high and value == high)):
        raise CardError(f"{what} is {value!r}, out of range")
    return float(value)


def _finite_everywhere(node, what: str) -> None:
    """Every number inside ``node`` is finite (NaN and infinities are refused)."""
    if isinstance(node, dict):
        for key, value in node.items():
            _finite_everywhere(value, f"{what}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _finite_everywhere(value, f"{what}[{i}]")
    elif isinstance(node, float) and not math.isfinite(node):
        raise CardError(f"{what} is {node!r}, not a finite number")


def _check_calibration(calibration: dict) -> None:
    if not calibration:
        return
    method = calibration.get("method")
    if method not in _CALIBRATIONS:
        raise CardError(f"calibration method {method!r} is not one of {', '.join(_CALIBRATIONS)}")
    _finite_everywhere(calibration, "calibration")
    if method == "temperature":
        _number(calibration.get("temperature"), "calibration temperature", 0, 1e3, open_low=True)
    elif method == "platt":
        # A slope of 0 gives every film the same probability. (A negative one, which turns
        # them round, is what calibrating an untrained network can give: left to the figures.)
        if _number(calibration.get("slope"), "calibration slope", -1e6, 1e6) == 0:
            raise CardError("calibration slope is 0: every film would get the same probability")
        _number(calibration.get("intercept"), "calibration intercept", -1e6, 1e6)
    else:
        x, y = calibration.get("x"), calibration.get("y")
        if not isinstance(x, list) or not isinstance(y, list) or len(x) != len(y) or len(x) < 2:
            raise CardError("isotonic calibration needs two lists x and y of the same length (2 or more)")
        xs = [_number(v, "calibration x") for v in x]
        ys = [_number(v, "calibration y", 0, 1) for v in y]
        if any(b < a for a, b in zip(xs, xs[1:])) or any(b < a for a, b in zip(ys, ys[1:])):
            raise CardError("isotonic calibration x and y must not decrease")


def _check_ood(ood: dict) -> None:
    if not ood:
        return
    _finite_everywhere(ood, "ood")
    for key in ("threshold", "flag_at"):
        if key in ood:
            _number(ood[key], f"ood {key}", 0, open_low=True)
    if "percentile" in ood:
        _number(ood["percentile"], "ood percentile", 0, 100, open_low=True)
    for key in ("components", "dimensions"):
        if key in ood and (isinstance(ood[key], bool) or not isinstance(ood[key], int) or ood[key] < 1):
            raise CardError(f"ood {key} is {ood[key]!r}, not a positive whole number")


def _input_size(card) -> tuple[int, int] | None:
    """The card's input size, checked; None when the card does not say (the network's is used)."""
    channels = (card.input or {}).get("channels", 1)
    if channels not in (1, 3) or isinstance(channels, bool):
        raise CardError(f"input channels {channels!r} is not 1 or 3")
    size = (card.input or {}).get("size")
    if size is None:
        return None
    return _side_pair(size, "the card's input size")


def _side_pair(size, what: str) -> tuple[int, int]:
    if not isinstance(size, (list, tuple)) or len(size) != 2 or not all(
            isinstance(s, int) and not isinstance(s, bool) and MIN_INPUT_SIDE <= s <= MAX_INPUT_SIDE for s in size):
        raise CardError(f"{what} {list(size) if isinstance(size, tuple) else size!r} is not two whole numbers "
                        f"from {MIN_INPUT_SIDE} to {MAX_INPUT_SIDE}")
    return size[0], size[1]


def _layers(config: dict) -> list:
    inner = config.get("config") if isinstance(config, dict) else None
    layers = inner.get("layers") if isinstance(inner, dict) else None
    return layers if isinstance(layers, list) else []


def architecture_io(config: dict, depth: int = 0) -> tuple[list | None, int | None]:
    """(input batch shape, output units) of a Keras model config, None where it cannot tell."""
    layers = _layers(config)
    by_name = {layer.get("name") or (layer.get("config") or {}).get("name"): layer
               for layer in layers if isinstance(layer, dict)}
    shape = next(((layer.get("config") or {}).get("batch_shape") for layer in layers
                  if isinstance(layer, dict) and layer.get("class_name") == "InputLayer"), None)
    outputs = (config.get("config") or {}).get("output_layers") if isinstance(config, dict) else None
    units = None
    if outputs and depth < 8:
        first = outputs[0] if isinstance(outputs[0], list) else outputs
        units = _units(by_name, first[0] if first else None, depth)
    return shape, units


def _units(by_name: dict, name, depth: int, hops: int = 0) -> int | None:
    layer = by_name.get(name)
    if not isinstance(layer, dict) or hops > 50:
        return None
    config = layer.get("config") or {}
    if isinstance(config.get("units"), int):
        return config["units"]
    if _layers(layer):  # a nested model (an ensemble's member)
        return architecture_io(layer, depth + 1)[1]
    inbound = layer.get("inbound_nodes") or []
    try:  # Keras 3: [{"args": [{"config": {"keras_history": [name, 0, 0]}} ...]}]
        args = inbound[0]["args"][0]
        args = args[0] if isinstance(args, list) else args
        return _units(by_name, args["config"]["keras_history"][0], depth, hops + 1)
    except (IndexError, KeyError, TypeError):
        return None


def _check_band(band, threshold: float) -> None:
    """An uncertain band is empty, or [low, high] inside [0, 1] around the threshold."""
    if band in (None, []):
        return
    if not isinstance(band, list) or len(band) != 2:
        raise CardError(f"uncertain_band {band!r} is not [low, high]")
    low = _number(band[0], "uncertain_band low", 0, 1)
    high = _number(band[1], "uncertain_band high", 0, 1)
    if not low <= threshold <= high:
        raise CardError(f"uncertain_band {band!r} does not contain the threshold {threshold!r}")


def validate_card(card, files: dict[str, bytes]) -> None:
    """Refuse a card whose values are out of range, or do not fit its architecture (CardError)."""
    for key in ("name", "version", "approach", "backbone", "threshold_rule", "gradcam_layer", "compression"):
        if not isinstance(getattr(card, key), str):
            raise CardError(f"{key} is not text")
    names = card.class_names
    if not isinstance(names, list) or not 2 <= len(names) <= 16 or len(set(map(str, names))) != len(names) \
            or not all(isinstance(n, str) and n.strip() for n in names):
        raise CardError(f"class_names {names!r} is not a list of 2 to 16 different names")
    # 0 makes every film PNEUMONIA, whatever it shows. (1 is what a threshold rule can
    # choose on a degenerate validation set: every film NORMAL, visible on the card.)
    _number(card.threshold, "threshold", 0, 1, open_low=True)
    _check_band(card.uncertain_band, card.threshold)
    if card.compression not in ("float32", "float16", "int8"):
        raise CardError(f"compression {card.compression!r} is not float32, float16 or int8")
    _check_calibration(card.calibration or {})
    _check_ood(card.ood or {})
    size = _input_size(card)
    if "architecture.json" not in files:
        return
    try:
        shape, units = architecture_io(json.loads(files["architecture.json"]))
    except (ValueError, RecursionError, AttributeError, TypeError):
        return  # the loader refuses an unreadable architecture in its own words
    if isinstance(shape, list) and len(shape) == 4 and all(isinstance(s, int) for s in shape[1:]):
        network = _side_pair((shape[1], shape[2]), "the network's input size")
        if size is not None and size != network:
            raise CardError(f"the card's input size {size[0]}x{size[1]} is not the network's {network[0]}x{network[1]}")
        if shape[3] != (card.input or {}).get("channels", 1):
            raise CardError(f"the card's input channels are not the network's {shape[3]}")
    if units is not None and units not in {1 if len(names) == 2 else len(names), len(names)}:
        raise CardError(f"{len(names)} class names for a network with {units} output(s)")
