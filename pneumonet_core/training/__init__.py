"""Training: configuration, the Keras loop with progress and cancellation, and packaging."""
