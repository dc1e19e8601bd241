"""Keypoint codecs: targets for training, decoding for inference."""
