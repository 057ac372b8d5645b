"""The nightly pipeline: crawl → classify → publish, one run at a time, recorded in the catalogue.

`pipeline.runner.run_pipeline` is the entry point used by `vitrina run-nightly` and by the
scheduler (`scheduler.py`); `catalog.locks` (the catalogue's locks, which a crawl and the
scheduler take too) keeps two runs from overlapping across processes and machines;
`pipeline.retrain` is the weekly retraining job.
"""
