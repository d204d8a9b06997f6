"""The composition roots: what ``train.py`` and ``decode.py`` call, above every other package.

``commands.train.train`` checks a composed config, builds the data, model and trainer through
``deepspeech_tt.builders``, fits, tests and writes the run's summary. (``decode.py`` calls
``deepspeech_tt.decoding.cli``, which sits above the builders too.) Nothing in the toolkit
imports this package; ``tests/test_layering.py`` keeps it so.
"""
