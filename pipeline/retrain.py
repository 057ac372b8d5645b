"""Weekly retraining from moderator decisions, promoted only when it is not worse.

When at least `[schedule] retrain_min_decisions` moderator decisions were made since the last
retraining, train a candidate (`vitrina train`, child process) on the catalogue, evaluate it and
the current model on the same validation split (`vitrina evaluate`), and promote the candidate
only if no head got worse. Every attempt is a PipelineRun row with trigger "retrain".
"""

from __future__ import annotations
