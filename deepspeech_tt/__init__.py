"""deepspeech-tt: DeepSpeech2 speech recognisers with GRU layers in compressed tensor formats."""

__version__ = "0.1.0"
