"""Model architectures, the model package file format, the threshold rule and the registry."""
