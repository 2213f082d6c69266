"""``cr.backends``: PyTorch's backend switches that CPU-only scripts still read or set.

``cr.backends.mps.is_available()`` is False (no Apple GPU), and ``cr.backends.cudnn``
holds the flags reproducibility snippets set (``deterministic``, ``benchmark``): setting
them changes nothing, because chainrule is deterministic already (see
``chainrule/random.py``) and has no cuDNN.
"""

from chainrule.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
