"""The vocabulary every stage shares, and nothing else: the map (:class:`EBSDMap`), the
class list and label-image contract (:mod:`.classes`), errors, atomic writes, input
expansion and map summaries. Imports nothing of the package outside ``core``."""
