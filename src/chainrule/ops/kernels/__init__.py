"""Raw array kernels that op forwards and the rules' array vocabulary share: pure
functions of arrays (no tensors, no graph), by family.

- ``elementwise.py``: ReLU and its backward, sigmoid, ``where``, scatter-add;
- ``windows.py``: sliding windows (im2col and col2im), behind convolution;
- ``pooling.py``: max pooling and the routing of its gradients;
- ``fast.py``: the speed devices, same bits as the plain forms, in fewer passes.
"""

from chainrule.ops.kernels import elementwise, pooling, windows
from chainrule.ops.kernels.elementwise import *  # noqa: F403
from chainrule.ops.kernels.pooling import *  # noqa: F403
from chainrule.ops.kernels.windows import *  # noqa: F403

# Each family's names, as its module lists them.
__all__ = elementwise.__all__ + pooling.__all__ + windows.__all__
