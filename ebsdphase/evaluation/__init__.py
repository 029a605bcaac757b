"""The ``evaluate`` and ``compare`` stages: metrics (:mod:`.metrics`), the evaluation of a
prediction folder (:mod:`.run`), method comparisons (:mod:`.compare`), the baselines the
paper compares against (:mod:`.baselines`) and the real-map checks (:mod:`.checks`)."""
