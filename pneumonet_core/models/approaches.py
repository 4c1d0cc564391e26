"""The approaches and label sets Pneumonet trains, as plain data (no Keras import)."""

APPROACHES = ("cnn", "transfer", "finetune")
APPROACH_DESCRIPTIONS = {
    "cnn": "Custom CNN trained from scratch: small, fast, needs no pretrained weights.",
    "transfer": "Transfer learning: a frozen ResNet152V2 backbone as feature extractor with a new classification head.",
    "finetune": "Fine-tuning: ResNet152V2 with its last blocks unfrozen, trained at a lower learning rate.",
}
LABEL_SETS = {
    "binary": ("NORMAL", "PNEUMONIA"),
    "three": ("NORMAL", "BACTERIA", "VIRUS"),
}
