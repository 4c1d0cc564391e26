"""Derive the LiteRT (TensorFlow Lite) graph of a loaded model package: TensorFlow side.

One graph gives everything a result needs in one pass, for any batch size:

- ``outputs``: the model's outputs (N, classes), exactly the package's prediction;
- ``features``: the guard layer's channel means (N, D) (:mod:`pneumonet_core.ood.features`:
  the card's ``ood.layer``, else the architecture's guard layer; an ensemble's first member);
- ``maps_<i>``: the last convolutional feature map (N, h, w, C) of member ``i`` (one for a
  single model), from which :mod:`.litert_runtime` computes the heat map.

For the Pneumonet heads (global average pooling, dropout, one dense layer) Grad-CAM is
CAM: the gradient of a class score with respect to the feature map is the same for every
position, a positive factor times the dense weights (sigmoid: p(1-p) w / hw; softmax:
p_c (w_c - sum_j p_j w_j) / hw), so the normalised Grad-CAM map equals the normalised map
``sum_k A_k v_k`` with ``v`` those weights. :func:`head_of` checks that a member's head is
that chain and records its dense weights, so the runtime needs no gradients; a member whose
head is anything else is marked ``cam: false`` and the runtime keeps TensorFlow's gradient
path for its map.

Only this module (and :mod:`.litert_cache`, which calls it once per package) imports
TensorFlow on the LiteRT path; it runs at most once per package and machine.
"""

from __future__ import annotations

import numpy as np

#: How the weights are stored in the graph:
#:
#: - ``mixed-int8`` (the default): int8 (dynamic-range: activations quantized on the fly by
#:   XNNPACK's int8 kernels) for the convolutions *after* the guard layer; float32 for every
#:   layer the guard's features depend on (for ResNet152V2: the stem and the first two
#:   stages, where the feature maps are largest and quantization error is carried through
#:   the most blocks) and for the dense head. The guard then reads exactly what it reads in
#:   float (same flags by construction); ResNet152V2's graph weighs 67 MB (float16: 117 MB)
#:   and a pass takes about half of float16's time (:func:`quantize_after_guard`);
#: - ``float16``: half the float32 size, computed in float32 (the default before);
#: - ``dynamic-int8``: every weight int8 (the converter's dynamic-range quantization);
#: - ``float32``; ``full-int8``: weights and activations, calibrated on representative films.
#:
#: On external/ with the bundled ResNet152V2 (benchmarks/results/bench_runtime_agreement_resnet152v2.txt)
#: mixed-int8, float16 and float32 hold the bar (max |dp| <= 0.01, AUC within 0.002, >= 99.5%
#: same decisions, same guard flags); dynamic-int8 misses max |dp| (0.017 on one film; the
#: error comes from quantizing the activations of the first stages, not from the weights);
#: full-int8 fails it by far (max |dp| 0.55).
VARIANTS = ("mixed-int8", "float16", "dynamic-int8", "float32", "full-int8")
DEFAULT_VARIANT = "mixed-int8"
#: Weights smaller than this stay float in ``mixed-int8`` (the converter's own rule for
#: dynamic-range quantization: a small kernel gains nothing and loses precision).
MIN_QUANTIZED_ELEMENTS = 1024
#: Bumped when the graph's layout changes, so older cached graphs are derived again.
GRAPH_VERSION = 1


def head_of(member, gradcam_layer: str) -> dict:
    """What the runtime needs to compute CAM for ``member``: its dense weights, or ``cam: False``.

    CAM equals Grad-CAM only when the feature map goes through global average pooling,
    (dropout, an identity at inference,) and one dense layer with a sigmoid or softmax.
    """
    import keras

    names = [layer.name for layer in member.layers]
    if gradcam_layer not in names:
        return {"cam": False, "why": f"no layer {gradcam_layer!r}"}
    after = member.layers[names.index(gradcam_layer) + 1:]
    kinds = [type(layer).__name__ for layer in after]
    dense = after[-1] if after else None
    chain_ok = (kinds[:1] == ["GlobalAveragePooling2D"] and all(k == "Dropout" for k in kinds[1:-1])
                and isinstance(dense, keras.layers.Dense) and len(after) >= 2)
    activation = getattr(getattr(dense, "activation", None), "__name__", "") if dense is not None else ""
    if (not chain_ok or dense is None or activation not in ("sigmoid", "softmax")
            or dense.output.name != member.outputs[0].name):
        return {"cam": False, "why": "the head is not pooling, dropout and one dense layer"}
    kernel = np.asarray(dense.kernel.numpy() if hasattr(dense.kernel, "numpy") else dense.kernel, np.float32)
    bias = np.asarray(dense.bias.numpy() if dense.use_bias else np.zeros(kernel.shape[-1]), np.float32)
    return {"cam": True, "activation": activation, "kernel": kernel.tolist(), "bias": bias.tolist()}


def guard_layer_name(package) -> str | None:
    """The layer whose channel means the guard reads: the card's, else the architecture's."""
    from pneumonet_core.ood.features import guard_layer, has_layer

    layer = (package.card.ood or {}).get("layer") or guard_layer(package.card)
    return layer if has_layer(package.model, layer) else None


def one_pass_model(package, gradcam_layer: str):
    """(Keras model with the outputs described above, its metadata) for a loaded package."""
    import keras

    from pneumonet_core.models.ensemble import members

    model = package.model
    inputs = model.inputs[0]
    found = members(model)
    outputs = {"outputs": model.outputs[0]}
    heads = []
    for i, member in enumerate(found):
        if member is model:
            outputs[f"maps_{i}"] = model.get_layer(gradcam_layer).output
        else:
            sub = keras.Model(member.inputs, member.get_layer(gradcam_layer).output)
            outputs[f"maps_{i}"] = sub(inputs)
        heads.append(head_of(member, gradcam_layer))
    layer = guard_layer_name(package)
    if layer is not None:
        from pneumonet_core.ood.features import features_only_model

        pooled = features_only_model(model, layer)
        outputs["features"] = pooled.outputs[0] if pooled.inputs[0] is inputs else pooled(inputs)
    meta = {"graph_version": GRAPH_VERSION, "members": len(found), "heads": heads, "guard_layer": layer,
            "gradcam_layer": gradcam_layer, "class_names": list(package.card.class_names)}
    return keras.Model(inputs, outputs, name="pneumonet_one_pass"), meta


def convert(package, gradcam_layer: str, variant: str = DEFAULT_VARIANT, representative=None) -> tuple[bytes, dict]:
    """(LiteRT flatbuffer bytes, metadata) of ``package``'s one-pass graph.

    ``representative`` (model inputs, N x 224 x 224 x 1 in [0, 1]) calibrates the
    activations of the ``full-int8`` variant; the others ignore it.
    """
    import tensorflow as tf

    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}")
    graph, meta = one_pass_model(package, gradcam_layer)
    # from_keras_model keeps the batch dimension open and the outputs named; a concrete
    # function of a Keras 3 model loses its variables on the way (a graph without weights).
    converter = tf.lite.TFLiteConverter.from_keras_model(graph)
    if variant not in ("float32", "mixed-int8"):  # mixed-int8 quantizes the float32 graph itself
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if variant == "full-int8":
        if representative is None or not len(representative):
            raise ValueError("full-int8 needs representative films to calibrate on")
        films = np.asarray(representative, np.float32)
        converter.representative_dataset = lambda: ([films[i : i + 1]] for i in range(len(films)))
        # int8 inside, float32 at the edges: the runtime feeds and reads float32 either way.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    data = converter.convert()
    if variant == "mixed-int8":
        data, meta["int8_weights"] = quantize_after_guard(data)
    meta.update(variant=variant, tensorflow=tf.__version__)
    return data, meta


def _guard_ancestors(graph, outputs: dict[str, int]) -> set[int]:
    """Indices of the operators the ``features`` output depends on (none without a guard)."""
    producer = {out: i for i, op in enumerate(graph.operators) for out in op.outputs}
    seen: set[int] = set()
    todo = [outputs["features"]] if "features" in outputs else []
    while todo:
        op = producer.get(todo.pop())
        if op is not None and op not in seen:
            seen.add(op)
            todo.extend(t for t in graph.operators[op].inputs if t >= 0)
    return seen


def quantize_after_guard(data: bytes) -> tuple[bytes, int]:
    """(graph, number of int8 weights) of a float32 graph: ``mixed-int8`` (see :data:`VARIANTS`).

    Each quantized convolution's kernel becomes int8, symmetric per output channel
    (scale = max |w| / 127, as the converter's dynamic-range quantization), so the
    interpreter runs it with its hybrid int8 kernel. Kept float32: the operators the guard's
    features depend on (without a guard, the first convolution), fully connected layers
    (the head: small, and last before the probability) and kernels under
    :data:`MIN_QUANTIZED_ELEMENTS`. The weights alone cost little (measured: max |dp|
    0.0007 with every kernel int8 and float activations); the int8 activations of the
    early, large feature maps are what moved the probabilities.
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    graph = model.subgraphs[0]
    signature = model.signatureDefs[0]
    outputs = {(m.name.decode() if isinstance(m.name, bytes) else m.name): m.tensorIndex for m in signature.outputs}
    keep = _guard_ancestors(graph, outputs)
    convolutions = [i for i, op in enumerate(graph.operators)
                    if flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) == "CONV_2D"]
    if not keep and convolutions:
        keep = {convolutions[0]}
    count = 0
    for i in convolutions:
        tensor = graph.tensors[graph.operators[i].inputs[1]]
        buffer = model.buffers[tensor.buffer]
        if i in keep or tensor.type != schema.TensorType.FLOAT32 or buffer.data is None:
            continue
        kernel = np.frombuffer(bytes(bytearray(buffer.data)), np.float32).reshape(tensor.shape)
        if kernel.size < MIN_QUANTIZED_ELEMENTS:
            continue
        scale = np.abs(kernel).reshape(len(kernel), -1).max(axis=1) / 127.0
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        values = np.clip(np.round(kernel / scale.reshape(-1, *[1] * (kernel.ndim - 1))), -127, 127)
        buffer.data = np.frombuffer(values.astype(np.int8).tobytes(), np.uint8)
        tensor.type = schema.TensorType.INT8
        tensor.quantization = schema.QuantizationParametersT()
        tensor.quantization.scale = scale.tolist()
        tensor.quantization.zeroPoint = [0] * len(scale)
        tensor.quantization.quantizedDimension = 0  # CONV_2D kernels are (out, h, w, in)
        count += 1
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), count
