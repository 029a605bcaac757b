"""Ground-truth labelling of EBSD maps: pre-labelling, grain majority, non-indexed rules.

The paper's three-step procedure (section 2.3) as a library; ``ebsdphase label`` is the
command-line front end. Heavy imports (scikit-learn, scipy) happen inside the functions.
"""

from ebsdphase.labelling.majority import grain_majority, majority_for_map
from ebsdphase.labelling.pipeline import LabelResult, agreement, label_map
from ebsdphase.labelling.scribbles import read_scribbles, strokes_from_labels, write_scribbles
from ebsdphase.labelling.threshold import otsu, threshold_labels
from ebsdphase.labelling.unindexed import handle_unindexed

__all__ = [
    "LabelResult",
    "agreement",
    "grain_majority",
    "handle_unindexed",
    "label_map",
    "majority_for_map",
    "otsu",
    "read_scribbles",
    "strokes_from_labels",
    "threshold_labels",
    "write_scribbles",
]
