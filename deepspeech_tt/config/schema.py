"""The configuration schema: one dataclass per config group, checked by Hydra at start.

``conf/config.yaml`` starts from ``Config`` (registered as ``base_config``), so a key the schema
does not have, or a value of the wrong type, fails when the config is composed, before any data
is read. Only the builders in ``deepspeech_tt.builders`` read these values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING


@dataclass
class DataConfig:
    name: str = MISSING  # short name shown in logs and TensorBoard (tiny, librispeech, wsj)
    format: str = "librispeech"  # corpus reader: librispeech, kaldi or jsonl
    root: str = MISSING  # corpus root; the splits below are relative to it
    train: list[str] = field(default_factory=lambda: ["train"])  # training splits (joined)
    dev: list[str] = field(default_factory=lambda: ["dev"])  # validation splits (WER each epoch)
    test: list[str] = field(default_factory=lambda: ["test"])  # held-out splits (decode.py)
    manifest_dir: str | None = None  # cached manifests; None: <root>/manifests
    generate_hours: float | None = None  # synthesise the embedded corpus into root if missing
    skip_bad: bool = False  # leave unreadable utterances out instead of failing preparation
    min_duration: float = 0.5  # seconds; shorter training utterances are dropped
    max_duration: float = 16.7  # seconds; longer training utterances are dropped
    max_frames: int = 20_000  # batch budget: utterances x longest utterance's frames
    num_buckets: int = 16  # length buckets the batches are drawn from
    sorta_grad: bool = True  # first epoch in increasing length order (DeepSpeech2)
    speed_perturbation: list[float] | None = None  # e.g. [0.9, 1.0, 1.1]; None: off
    stats_utterances: int = 2_000  # training utterances to fit feature normalisation on
    num_workers: int = 2  # DataLoader worker processes


@dataclass
class SpecAugmentConfig:
    freq_masks: int = 0  # frequency masks per utterance (0: SpecAugment off)
    freq_width: int = 27  # widest frequency mask, in feature bins
    time_masks: int = 0  # time masks per utterance
    time_width: float = 0.05  # widest time mask, as a fraction of the utterance


@dataclass
class FeaturesConfig:
    kind: str = "logspec"  # logspec (DeepSpeech2's linear spectrogram) or logmel
    sample_rate: int = 16_000  # audio is read at this rate
    window_ms: float = 20.0  # analysis window
    hop_ms: float = 10.0  # frame shift
    n_mels: int = 80  # mel bands (logmel only)
    normalize: str = "global"  # global (stats fitted on training audio), utterance or none
    spec_augment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)  # training only


@dataclass
class TokenizerConfig:
    kind: str = "char"  # char (letters, apostrophe, space) or bpe (sentencepiece)
    vocab_size: int = 256  # bpe only: pieces, blank included
    model_dir: str | None = None  # bpe only: where the trained model is cached; None: manifest_dir


@dataclass
class ModelConfig:
    name: str = MISSING  # size preset shown in logs (tiny, ds2)
    conv_layers: int = 2  # DeepSpeech2's 2-D convolutions in the front-end (1 to 3)
    time_stride: int = 2  # frames the front-end merges (DeepSpeech2: 2; 3 is a third cheaper)
    rnn_layers: int = 3  # stacked (Bi)GRU layers
    hidden_size: int = 256  # GRU hidden units per direction
    bidirectional: bool = True  # BiGRU; False: unidirectional with a lookahead convolution
    sum_directions: bool = True  # sum the two directions (DeepSpeech2) or concatenate them
    lookahead: int = 20  # future frames of the lookahead convolution (unidirectional only)
    dropout: float = 0.0  # dropout between RNN layers


@dataclass
class RNNLayerConfig:
    """One entry of ``rnn.layers``: a field left null takes the ``rnn`` value of that name."""

    format: str | None = None  # this layer's format; null: rnn.format
    rank: Any = None  # this layer's rank (int, or a list per bond); null: rnn.rank
    hh_rank: Any = None  # its hidden-to-hidden rank when it differs; null: rnn.hh_rank
    strategy: str | None = None  # a registered strategy or auto; null: rnn.strategy
    layout: str | None = None  # separate or joint; null: rnn.layout
    shared: bool = False  # share this (lowrank) layer's V with the next layer's W_ih (Lu et al.)


@dataclass
class RNNConfig:
    rnn_type: str = "gru"  # recurrent cell of every layer: gru (DeepSpeech2) or lstm
    format: str = "tt"  # GRU matrix format: dense, tt, cp, tucker, lowrank, ht, toeplitz, tr, bt
    rank: Any = "${rank}"  # the format's rank (int, or a list per bond); the top-level rank
    hh_rank: Any = None  # rank of the hidden-to-hidden matrices when it differs
    strategy: str = "auto"  # a registered strategy or auto (the cheapest that supports the layer)
    layout: str | None = None  # separate, joint ([W_ih | W_hh] as one matrix) or null: joint for ht
    dense_layers: list[int] = field(default_factory=list)  # layers kept dense, e.g. [0]
    layers: list[RNNLayerConfig] = field(default_factory=list)  # one entry per layer; []: uniform
    shared_lowrank_from: int | None = None  # layers from this one up: lowrank, V shared upwards
    shared_rank: Any = None  # rank of the shared_lowrank_from layers; null: rnn.rank


@dataclass
class OptimConfig:
    name: str = "adamw"  # adamw or sgd (with Nesterov momentum)
    lr: float = 1e-3  # peak learning rate, reached after the warm-up
    weight_decay: float = 1e-2  # decoupled (adamw) or L2 (sgd)
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])  # adamw only
    momentum: float = 0.9  # sgd only
    warmup: float = 0.15  # fraction of the steps spent warming up (linear from lr/25)
    final_lr_ratio: float = 1e-3  # the last step's learning rate, relative to lr (cosine decay)


@dataclass
class CheckpointConfig:
    every_n_steps: int = 500  # also save last.ckpt this often (for resume); 0: at epoch ends only
    save_top_k: int = 1  # best checkpoints kept by dev WER


@dataclass
class TrainerConfig:
    accelerator: str = "cpu"  # cpu, gpu or auto
    devices: Any = 1  # devices per node (int, list, or "auto")
    num_nodes: int = 1  # machines (torchrun or SLURM start one process per device)
    strategy: str = "auto"  # auto, ddp, ddp_spawn
    precision: str = "32-true"  # 32-true, bf16-mixed (CPU or GPU), 16-mixed (GPU)
    max_epochs: int = 10  # stop after this many epochs ...
    max_steps: int = -1  # ... or this many optimiser steps (-1: no step limit)
    max_time: str | None = None  # ... or after this wall time, "DD:HH:MM:SS"
    accumulate_grad_batches: int = 1  # batches per optimiser step
    gradient_clip_val: float = 400.0  # clip the gradients' global L2 norm (0: off)
    log_every_n_steps: int = 10  # scalars to TensorBoard every n steps
    val_check_interval: float = 1.0  # validate every epoch (1.0) or every n batches (int > 1)
    limit_val_batches: float = 1.0  # fraction (or number) of dev batches per validation
    num_sanity_val_steps: int = 0  # dev batches run before training, to catch errors early
    example_transcripts: int = 3  # dev transcripts written to the log each validation
    enable_progress_bar: bool = True  # tqdm progress bar
    test_after_fit: bool = True  # greedy WER/CER of the best checkpoint on data.test at the end
    threads: int | None = None  # torch intra-op threads; None: torch's default
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)  # what is kept


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)  # corpus, manifests, batching
    features: FeaturesConfig = field(default_factory=FeaturesConfig)  # front-end features
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)  # output units
    model: ModelConfig = field(default_factory=ModelConfig)  # DeepSpeech2 size preset
    rnn: RNNConfig = field(default_factory=RNNConfig)  # GRU weight format and rank
    optim: OptimConfig = field(default_factory=OptimConfig)  # optimiser and schedule
    trainer: TrainerConfig = field(default_factory=TrainerConfig)  # Lightning trainer
    rank: Any = 4  # the decomposition rank, interpolated into rnn.rank (sweep with rank=2,4,8)
    seed: int = 0  # seeds weights, data order and augmentation
    resume: str | None = None  # local checkpoint to continue from: <run>/checkpoints/last.ckpt
    init_from: str | None = None  # local checkpoint whose weights start this run, fitted into rnn
