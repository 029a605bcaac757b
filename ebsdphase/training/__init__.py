"""The ``train`` stage: batches from a prepared dataset, the training loop, checkpoints,
``--resume`` and the best-validation bundle (:mod:`.loop`)."""
