"""What training and decoding both measure with: greedy CTC decoding and WER/CER counts.

A leaf below both (``training`` scores dev and test with it, ``decoding`` decodes and writes
results with it), so that neither imports the other.
"""
