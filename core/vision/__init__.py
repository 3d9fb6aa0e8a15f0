"""Image classification: data, input checks, preprocessing, backbones, the training loop and
its methods."""
