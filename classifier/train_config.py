"""What `vitrina train` is told, with its defaults: the one place they are written (the CLI's
options and retraining read them from here). No TensorFlow import, so the CLI stays quick."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from classifier.data import Sample


@dataclass
class TrainConfig:
    out: Path
    data_dirs: list[Path] = field(default_factory=list)
    extra_samples: list[Sample] = field(default_factory=list)  # e.g. from the catalogue
    backbone: str = "efficientnet_lite0"
    pretrained: bool = True
    image_size: int = 192
    val_fraction: float = 0.2
    head_epochs: int = 60
    fine_tune_epochs: int = 12
    batch_size: int = 64
    colour_stats: bool = True
    compare_colour_stats: bool = True  # also train colour heads without the statistics, report both
    target_precision: float = 0.95
    label_smoothing_alt: float = 0.25  # weight of the labeller's runner-up colour in the target
    seed: int = 1337
    limit: int | None = None  # use only the first N photos (quick experiments, tests)
    command: str = ""  # the command line, recorded in the metadata
    workers: int = 2
    views: int = 3  # augmented views per training photo: original, mirrored, zoomed
    fine_tune_from: int | None = None  # Lite block where it starts (None: the last 2 stages)
    full_fine_tune_epochs: int = 6  # then every layer end to end on augmented pixels (0: skip)
    full_fine_tune_lr: float = 1e-4
    runtime: str = "auto"  # what the recorded throughput is measured with ([classifier] runtime)
