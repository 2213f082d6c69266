"""Raw array kernels that op forwards and the rules' array vocabulary share: pure
functions of arrays (no tensors, no graph), by family.

- ``elementwise.py``: ReLU and its backward, sigmoid, ``where``, scatter-add;
- ``windows.py``: sliding windows (im2col and col2im), behind convolution;
- ``pooling.py``: max pooling and the routing of its gradients;
- ``fast.py``: the speed devices, same bits as the plain forms, in fewer passes.
"""

from chainrule.ops.kernels.elementwise import index_add, relu, sigmoid, threshold_grad, where
from chainrule.ops.kernels.pooling import PoolRoute, max_pool, pass_index, pool_gather, pool_scatter
from chainrule.ops.kernels.windows import (
    batch_innermost,
    col2im,
    conv_output_size,
    conv_output_size_2d,
    fold,
    im2col,
    padded,
    unfold,
)

__all__ = [
    "PoolRoute",
    "batch_innermost",
    "col2im",
    "conv_output_size",
    "conv_output_size_2d",
    "fold",
    "im2col",
    "index_add",
    "max_pool",
    "padded",
    "pass_index",
    "pool_gather",
    "pool_scatter",
    "relu",
    "sigmoid",
    "threshold_grad",
    "unfold",
    "where",
]
