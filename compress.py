"""Compress a trained checkpoint: ``python compress.py checkpoint=CKPT rnn=tt rank=8 out=NEW``.

Fits every recurrent matrix into the given format and rank, copies every other weight, prints
the fit table (relative Frobenius error, weights before and after) and writes a checkpoint that
``decode.py`` reads and ``train.py init_from=`` fine-tunes; ``--help`` lists the keys. See
``deepspeech_tt.commands.compress``.
"""

import sys

from deepspeech_tt.commands.compress import main

if __name__ == "__main__":
    sys.exit(main())
