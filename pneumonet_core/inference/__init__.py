"""Inference: batched prediction, the classifier facade, Grad-CAM and batch classification."""
