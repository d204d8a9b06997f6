"""Transcribe audio with a trained checkpoint and score it.

    python decode.py checkpoint=outputs/tiny_tt/<run>/checkpoints/last.ckpt audio=test
    python decode.py checkpoint=... audio=dev decoder=beam_lm tune=true   # fit LM weight, bonus
    python decode.py checkpoint=... audio=test decoder=beam_lm            # uses the tuned pair
    python decode.py --help                                               # every key

Results go to ``<run>/decode/`` (see ``deepspeech_tt.decoding``).
"""

import sys

from deepspeech_tt.decoding.cli import main

if __name__ == "__main__":
    sys.exit(main())
