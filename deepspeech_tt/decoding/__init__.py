"""Decoding: greedy and beam-search CTC decoders, n-gram language models."""
