"""``cr.linalg``: PyTorch's ``torch.linalg`` norms (``norm``, ``vector_norm``,
``matrix_norm``); see ``chainrule/ops/norms.py``."""

from chainrule.ops.norms import matrix_norm, norm, vector_norm

__all__ = ["matrix_norm", "norm", "vector_norm"]
