r"""One step of a recurrent layer as a module: ``RNNCell``, ``LSTMCell``, ``GRUCell``,
with PyTorch's parameter names (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``),
shapes, gate order and initialisation. Their equations are the step functions of
:mod:`chainrule.nn.rnn`, which the multi-layer modules run over a sequence; a loop over
a cell, by hand, is what a layer does (the tests check it).
"""

from __future__ import annotations

import math

from chainrule import dtypes as _dt
from chainrule import ops
from chainrule.devices import check_device
from chainrule.errors import ShapeError
from chainrule.nn import init
from chainrule.nn.layers import layer_input
from chainrule.nn.module import Module, Parameter
from chainrule.nn.rnn import _check_size, gru_step, lstm_step, rnn_step
from chainrule.tensor import Tensor, empty, zeros

__all__ = ["GRUCell", "LSTMCell", "RNNCell", "RNNCellBase"]


class RNNCellBase(Module):
    """What the cells share: ``weight_ih`` (G*H, H_in), ``weight_hh`` (G*H, H), ``bias_ih``
    and ``bias_hh`` (G*H,) for G gates, all from :math:`U(-1/\\sqrt H, 1/\\sqrt H)`."""

    _label = "RNNCell"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        num_chunks: int,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        _check_size("input_size", input_size)
        _check_size("hidden_size", hidden_size)
        check_device(type(self).__name__, device)  # the CPU, or a RuntimeError
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        dt = _dt.or_default(dtype)
        self.weight_ih = Parameter(empty(num_chunks * hidden_size, input_size, dtype=dt))
        self.weight_hh = Parameter(empty(num_chunks * hidden_size, hidden_size, dtype=dt))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, dtype=dt))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, dtype=dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _prepare(self, input, states: list) -> tuple:
        """The input (N, H_in) and states (N, H) as tensors of the cell's dtype, checked;
        and whether the input was batched (unbatched ones gain and lose a batch of 1)."""
        dtype = self.weight_ih._array.dtype
        x = layer_input(input, dtype, self)
        if x.ndim not in (1, 2):
            raise ShapeError(f"{self._label}: Expected input to be 1D or 2D, got {x.ndim}D instead")
        batched = x.ndim == 2
        if not batched:
            x = x.unsqueeze(0)
        if x.shape[1] != self.input_size:
            raise ShapeError(
                f"input has inconsistent input_size: got {x.shape[1]} expected {self.input_size}"
            )
        out = []
        for i, s in enumerate(states):
            label = "hidden" if len(states) == 1 else f"hx[{i}]"
            if s is None:
                out.append(zeros(x.shape[0], self.hidden_size, dtype=dtype))
                continue
            s = layer_input(s, dtype, self)
            if s.ndim not in (1, 2):
                raise ShapeError(
                    f"{self._label}: Expected {label} to be 1D or 2D, got {s.ndim}D instead"
                )
            if not batched:
                s = s.unsqueeze(0)
            if tuple(s.shape) != (x.shape[0], self.hidden_size):
                raise ShapeError(
                    f"{self._label}: {label} has shape {tuple(s.shape)}, expected "
                    f"({x.shape[0]}, {self.hidden_size}) (batch size, hidden_size)"
                )
            out.append(s)
        return x, out, batched

    def _input_projection(self, x: Tensor) -> Tensor:
        return ops.linear(x, self.weight_ih, self.bias_ih)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    r"""One Elman step, :math:`h' = \tanh(x W_{ih}^\top + b_{ih} + h W_{hh}^\top +
    b_{hh})` (ReLU with ``nonlinearity='relu'``): input (N, H_in) or (H_in,), ``hx``
    (N, H) or (H,), zeros if omitted; returns :math:`h'`."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device=None,
        dtype=None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None) -> Tensor:
        x, (h,), batched = self._prepare(input, [hx])
        h = rnn_step(self._input_projection(x), h, self.weight_hh, self.bias_hh, self.nonlinearity)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    r"""One LSTM step (:func:`lstm_step`): input (N, H_in) or (H_in,), ``hx`` a pair
    ``(h, c)`` of (N, H) or (H,), zeros if omitted; returns ``(h', c')``."""

    _label = "LSTMCell"

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None) -> tuple[Tensor, Tensor]:
        states = [None, None] if hx is None else list(hx)
        if len(states) != 2:
            raise TypeError("LSTMCell: hx must be a pair (h, c)")
        x, (h, c), batched = self._prepare(input, states)
        h, c = lstm_step(self._input_projection(x), h, c, self.weight_hh, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    r"""One GRU step (:func:`gru_step`): input (N, H_in) or (H_in,), ``hx`` (N, H) or
    (H,), zeros if omitted; returns :math:`h'`."""

    _label = "GRUCell"

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None) -> Tensor:
        x, (h,), batched = self._prepare(input, [hx])
        h = gru_step(self._input_projection(x), h, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)
