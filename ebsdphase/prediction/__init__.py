"""The ``predict`` stage: the one prediction path (:mod:`.engine`: recipe -> network ->
probabilities, whole map or tiled), the result and its files (:mod:`.result`) and folder
runs with their progress, outputs and ``fractions.csv`` (:mod:`.folder`)."""
