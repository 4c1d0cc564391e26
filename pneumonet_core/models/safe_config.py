"""What an architecture in a model package may contain: an allow-list checked before Keras
sees it.

A Keras config names classes and functions by module; a crafted one can name a ``Lambda``
holding bytecode, a custom layer from any importable module, or a plain function
(``os.system``) where an activation or initializer is expected. Keras' own ``safe_mode``
has been bypassed several times (CVE-2025-1550, -8747, -9906, -12060, CVE-2026-1462), so
Pneumonet checks every serialized object itself first: only the Keras built-ins its
architectures use and its own registered ``pneumonet>`` layers pass, activations must be
names of Keras activations, and nothing may point at a function. Anything else is refused
with one line naming the layer, before any of it is deserialized.
"""

from __future__ import annotations

#: Keras built-in layers that compute a fixed function of their weights (no user code).
ALLOWED_LAYERS = frozenset({
    "InputLayer", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Dense", "BatchNormalization",
    "LayerNormalization", "Activation", "ReLU", "Softmax", "Add", "Concatenate", "Multiply",
    "ZeroPadding2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
    "Flatten", "Reshape", "Dropout", "SpatialDropout2D", "Rescaling", "Identity", "Resizing", "Average",
})
#: Pneumonet's own layers (registered as ``pneumonet>Name`` in pneumonet_core.models.layers).
PNEUMONET_LAYERS = frozenset({"GrayToBackboneInput", "UnitScale", "ChestAugment", "CentralCrop",
                              "PerImageStandardize"})
PNEUMONET_MODULE = "pneumonet_core.models.layers"
#: Other serialized objects a model config holds: models, initializers, regularizers, policies.
ALLOWED_OBJECTS = {
    "keras.src.models.functional": {"Functional"},
    "keras.src.models.sequential": {"Sequential"},
    "keras": {"Functional", "Sequential", "Model", "DTypePolicy", "FloatDTypePolicy"},
    "keras.models": {"Functional", "Sequential", "Model"},
    "keras.initializers": {"GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal",
                           "LecunUniform", "Ones", "Zeros", "Constant", "RandomNormal", "RandomUniform",
                           "TruncatedNormal", "VarianceScaling", "Orthogonal"},
    "keras.regularizers": {"L1", "L2", "L1L2"},
    "keras.constraints": {"MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm"},
}
#: Activation names that may appear as strings.
ALLOWED_ACTIVATIONS = frozenset({
    "linear", "relu", "relu6", "sigmoid", "softmax", "tanh", "elu", "selu", "gelu", "swish", "silu",
    "softplus", "softsign", "hard_sigmoid", "hard_swish", "leaky_relu", "exponential", "log_softmax", "mish",
})
#: Layers that run stored Python code or load code from elsewhere, named in the refusal.
_CODE_LAYERS = {"Lambda": "can run code", "TFSMLayer": "loads a TensorFlow SavedModel, which can run code",
                "TorchModuleWrapper": "can run code", "JaxLayer": "can run code", "FlaxLayer": "can run code"}
#: Config keys that hold serialized functions in Keras (Lambda, custom layers).
_FUNCTION_KEYS = ("function", "function_type", "output_shape_type", "module_objects")


class UnsafeArchitecture(ValueError):
    """The architecture names something Pneumonet does not load (one-line reason)."""


def check_architecture(config) -> None:
    """Raise :class:`UnsafeArchitecture` unless every object in ``config`` is allowed."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise UnsafeArchitecture("refused: the architecture is not a Keras model config")
    _walk(config, layer="model")


def _walk(node, layer: str) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, layer)
        return
    if not isinstance(node, dict):
        return
    if "class_name" in node:
        layer = _check_object(node, layer)
    for key, value in node.items():
        if key in _FUNCTION_KEYS and value is not None:
            raise UnsafeArchitecture(f"refused: layer {layer} has a serialized function ({key}), which can run code")
        if key == "activation":
            _check_activation(value, layer)
        if key == "build_config" or key == "compile_config":
            continue  # shapes only / dropped before deserializing
        _walk(value, layer)


def _check_object(node: dict, layer: str) -> str:
    """Check one serialized object; return the layer name to report below it."""
    class_name = node.get("class_name")
    module = node.get("module")
    registered = node.get("registered_name")
    config = node.get("config")
    name = config.get("name") if isinstance(config, dict) and isinstance(config.get("name"), str) else None
    if not isinstance(class_name, str) or not (module is None or isinstance(module, str)):
        raise UnsafeArchitecture(f"refused: layer {layer} has a malformed class entry")
    if class_name == "__keras_tensor__" and module is None:
        return layer  # a reference to another layer's output in a functional graph
    label = name or class_name
    if class_name in _CODE_LAYERS or class_name in ("__lambda__", "function"):
        why = _CODE_LAYERS.get(class_name, "can run code")
        raise UnsafeArchitecture(f"refused: layer {label} ({class_name}) {why}")
    if module == "keras.layers":
        if class_name not in ALLOWED_LAYERS or registered not in (None, class_name):
            raise UnsafeArchitecture(f"refused: layer {label} (keras.layers.{class_name}) is not a layer "
                                     "Pneumonet models use")
        return label
    if module == PNEUMONET_MODULE:
        if class_name not in PNEUMONET_LAYERS or registered != f"pneumonet>{class_name}":
            raise UnsafeArchitecture(f"refused: layer {label} ({registered or class_name}) is not a registered "
                                     "Pneumonet layer")
        return label
    allowed = ALLOWED_OBJECTS.get(module or "")
    if allowed is None or class_name not in allowed or registered not in (None, class_name):
        where = f"{module}.{class_name}" if module else class_name
        raise UnsafeArchitecture(f"refused: layer {layer} uses {where} ({registered or 'unregistered'}), "
                                 "which is not allowed in a model package")
    return label if class_name in ("Functional", "Sequential", "Model") else layer


def _check_activation(value, layer: str) -> None:
    if value is None:
        return
    if isinstance(value, str):
        if value not in ALLOWED_ACTIVATIONS:
            raise UnsafeArchitecture(f"refused: layer {layer} uses activation {value!r}, which is not a Keras "
                                     "activation Pneumonet allows")
        return
    raise UnsafeArchitecture(f"refused: layer {layer} has an activation that points at a function "
                             f"({_describe(value)}), which can run code")


def _describe(value) -> str:
    if isinstance(value, dict):
        return ".".join(str(v) for v in (value.get("module"), value.get("config") or value.get("class_name")) if v)
    return type(value).__name__
