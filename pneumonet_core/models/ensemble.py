"""An ensemble of models of one recipe and one patient split, shipped as one package.

Members trained with different weight seeds (``--seed``) on the same patient split
(``--split-seed``) are wrapped as ``member_0``, ``member_1``... inside one Keras model whose
output is the mean of theirs: one file, one forward pass, one card. Grad-CAM explains the
ensemble as the mean of its members' maps (:func:`members`).
"""

from __future__ import annotations

from pneumonet_core.errors import PneumonetError

MEMBER_PREFIX = "member_"


def build_ensemble(models: list):
    """One Keras model averaging the outputs of ``models`` (their weights are shared, not copied)."""
    import keras

    if len(models) < 2:
        raise PneumonetError("an ensemble needs at least two models")
    inputs = keras.Input(models[0].inputs[0].shape[1:], name="scan")
    outputs = [keras.Model(m.inputs, m.outputs[0], name=f"{MEMBER_PREFIX}{i}")(inputs) for i, m in enumerate(models)]
    mean = keras.layers.Average(dtype="float32", name="ensemble_mean")(outputs)
    return keras.Model(inputs, mean, name="pneumonet_ensemble")


def members(model) -> list:
    """The member models of an ensemble, or ``[model]`` for a single model."""
    found = [layer for layer in model.layers if layer.name.startswith(MEMBER_PREFIX) and hasattr(layer, "layers")]
    return found or [model]


def check_compatible(cards: list) -> None:
    """Refuse members that differ in what they are or in the patients they were split on (one line)."""
    first = cards[0]
    for card in cards[1:]:
        for key in ("approach", "backbone", "class_names", "input"):
            if getattr(card, key) != getattr(first, key):
                raise PneumonetError(f"{card.name}: its {key} differs from {first.name}'s; an ensemble needs one recipe")
        for part in ("test_patients", "validation_patients"):
            if card.data.get(part) != first.data.get(part):
                raise PneumonetError(f"{card.name}: trained on another patient split than {first.name} "
                                     "(train the members with the same --split-seed)")
        if card.spec.get("members", 1) != 1:
            raise PneumonetError(f"{card.name}: is an ensemble already")
