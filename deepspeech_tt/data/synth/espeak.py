"""eSpeak NG through ctypes, from the espeakng-loader wheel (no system package).

The library keeps global state (the voice, the synthesis callback, and waveform-generator
state that survives ``espeak_Terminate``), so a process holds one ``Espeak`` and the audio of
an utterance depends on what that process said before: the corpus generator says each
speaker's sentences in a fresh process, which makes the output independent of scheduling.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from functools import lru_cache

import espeakng_loader
import numpy as np

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_RATE, _PITCH, _RANGE = 1, 3, 4  # espeak_PARAMETER
_CHARS_UTF8 = 1
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class EspeakError(RuntimeError):
    """eSpeak NG refused a voice or a sentence."""


@dataclass(frozen=True)
class Voice:
    """A speaker identity: an accent (eSpeak language), a timbre (variant) and a manner."""

    language: str  # eSpeak language, e.g. "en-gb-scotland"
    variant: str  # eSpeak voice variant, e.g. "m3", "f2", "klatt"
    pitch: int  # base pitch, 0..99 (eSpeak's default is 50)
    range: int  # pitch range, 0..99 (monotone .. lively)
    rate: int  # words per minute (eSpeak's default is 175)

    @property
    def name(self) -> str:
        return f"{self.language}+{self.variant}"

    def describe(self) -> str:
        return f"{self.name} pitch={self.pitch} range={self.range} rate={self.rate}"


class Espeak:
    """The process's eSpeak NG engine; get it with ``engine()``, never construct two."""

    def __init__(self) -> None:
        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._lib.espeak_Initialize.restype = ctypes.c_int
        self._lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        self._lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        data_path = espeakng_loader.get_data_path().encode()
        self.sample_rate: int = self._lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, 0
        )
        if self.sample_rate <= 0:
            raise EspeakError(f"espeak_Initialize failed with data at {data_path.decode()}")
        self._chunks: list[np.ndarray] = []
        self._callback = _SYNTH_CALLBACK(self._collect)  # kept alive as long as the engine
        self._lib.espeak_SetSynthCallback(self._callback)
        self._libc = ctypes.CDLL(None)

    def synthesize(self, text: str, voice: Voice, seed: int = 0) -> np.ndarray:
        """Samples (S,) int16 at ``sample_rate`` of ``voice`` saying ``text``.

        ``seed`` seeds eSpeak's noise generators (breath and frication noise).
        """
        if self._lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
            raise EspeakError(f"eSpeak has no voice {voice.name!r}")
        for parameter, value in ((_RATE, voice.rate), (_PITCH, voice.pitch), (_RANGE, voice.range)):
            self._lib.espeak_SetParameter(parameter, value, 0)
        self._lib.espeak_ng_SetRandSeed(seed)
        self._libc.srand(seed & 0x7FFFFFFF)  # eSpeak also calls libc rand()
        self._chunks = []
        payload = text.encode("utf-8")
        status = self._lib.espeak_Synth(payload, len(payload) + 1, 0, 0, 0, _CHARS_UTF8, None, None)
        if status != 0 or not self._chunks:
            raise EspeakError(f"eSpeak could not say {text!r} with {voice.name} (status {status})")
        return np.concatenate(self._chunks)

    def _collect(self, samples: ctypes._Pointer, count: int, _events: int) -> int:
        if count > 0 and samples:
            self._chunks.append(np.ctypeslib.as_array(samples, shape=(count,)).copy())
        return 0


@lru_cache(maxsize=1)
def engine() -> Espeak:
    """The eSpeak engine of this process, started on first use."""
    return Espeak()
