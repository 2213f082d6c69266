r"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` (their one-step cells are in
:mod:`chainrule.nn.rnn_cells`), with PyTorch's parameter names, shapes, gate order, initialisation and calling conventions, so that
``load_state_dict(torch_model.state_dict())`` reproduces PyTorch's outputs and gradients.

Every layer is composed from existing ops (``linear``, ``sigmoid``, ``tanh``, ``relu``,
products, sums, ``stack``/``cat``), so its gradient comes from autograd: back-propagation
through time (BPTT) is the ordinary backward pass through the unrolled loop.

Why gradients vanish (or explode) through time
----------------------------------------------
The state after :math:`T` steps depends on the state at step :math:`k` through the
product of one Jacobian per step,

.. math::
    \frac{\partial h_T}{\partial h_k} = \prod_{t=k+1}^{T}
    \frac{\partial h_t}{\partial h_{t-1}}
    = \prod_{t=k+1}^{T} \operatorname{diag}\bigl(\tanh'(a_t)\bigr)\, W_{hh}
    \qquad\text{(Elman RNN, } h_t = \tanh(a_t)\text{)}.

With :math:`|\tanh'| \le 1`, the product shrinks geometrically when the largest singular
value of :math:`W_{hh}` is below 1 (the classic vanishing gradient: early inputs stop
influencing the loss) and can grow geometrically when it is above 1 (exploding; clip the
gradient norm). The LSTM's cell state is updated additively, :math:`c_t = f_t \odot
c_{t-1} + i_t \odot g_t`, so :math:`\partial c_t / \partial c_{t-1} = \operatorname{diag}(f_t)`:
while the forget gate stays near 1 the gradient passes through many steps unchanged (the
"constant error carousel"). The GRU's :math:`h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}`
does the same through its update gate.

Layout (PyTorch's): input ``(L, N, H_in)``, or ``(N, L, H_in)`` with ``batch_first``, or
``(L, H_in)`` unbatched; states ``(D * num_layers, N, H_out)`` (``(D * num_layers,
H_out)`` unbatched), layer-major with the reverse direction second
(``[l0, l0_reverse, l1, ...]``); output ``(L, N, D * H_out)``, the reverse direction's
features after the forward one's. The gates of a layer are stacked in one weight, in
PyTorch's order: LSTM ``(i, f, g, o)``, GRU ``(r, z, n)``.

Speed: the input projections :math:`x_t W_{ih}^\top + b_{ih}` of all steps are computed
as one matrix product before the loop, as PyTorch's CPU kernels do; only
:math:`h_{t-1} W_{hh}^\top` remains per step. The per-step pieces are cut out of it with
:func:`_unbind` / :func:`_chunk`, one graph node each instead of one slice per piece
(whose backward would write a full-size gradient per piece: quadratic in the length).
"""

from __future__ import annotations

import math
import numbers
import warnings

from chainrule import dtypes as _dt
from chainrule import ops
from chainrule.autograd.function import Function
from chainrule.devices import check_device
from chainrule.errors import ShapeError
from chainrule.nn import init
from chainrule.nn.dropout import dropout
from chainrule.nn.layers import layer_input
from chainrule.nn.module import Module, Parameter, changed_options
from chainrule.tensor import Tensor, _make, empty, zeros

__all__ = ["GRU", "LSTM", "RNN", "RNNBase", "gru_step", "lstm_step", "rnn_step"]


# --------------------------------------------------------------------- pieces of a tensor
class _Pieces(Function):
    """Equal pieces of a tensor along ``dim`` as several outputs of one node: ``unbind``
    (the dimension removed) or ``chunk`` (kept). Backward: the pieces' gradients joined
    back (``stack`` or ``cat``), missing ones as zeros: one array however many pieces."""

    @staticmethod
    def forward(ctx, x, dim, count, keep):
        ctx.dim, ctx.keep = dim, keep
        arr = x._array
        size = arr.shape[dim] // count
        lead = (slice(None),) * dim
        if keep:
            parts = [arr[(*lead, slice(i * size, (i + 1) * size))] for i in range(count)]
        else:
            parts = [arr[(*lead, i)] for i in range(count)]
        return tuple(_make(p, None, False) for p in parts)

    @staticmethod
    def backward(ctx, *grads):
        joined = ops.cat(grads, ctx.dim) if ctx.keep else ops.stack(grads, ctx.dim)
        return joined, None, None, None


def _unbind(x: Tensor, dim: int = 0) -> tuple:
    """The slices of ``x`` along ``dim`` (``x.unbind(dim)``), as one graph node."""
    return _Pieces.apply(x, dim, x._array.shape[dim], False)


def _chunk(x: Tensor, count: int) -> tuple:
    """``count`` equal pieces of ``x`` along its last dimension, as one graph node."""
    return _Pieces.apply(x, x.ndim - 1, count, True)


# --------------------------------------------------------------------- one step of each cell
def rnn_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, nonlinearity: str) -> Tensor:
    r"""Elman step: :math:`h' = \phi(g_i + h W_{hh}^\top + b_{hh})`, :math:`g_i = x
    W_{ih}^\top + b_{ih}`, :math:`\phi` = tanh or ReLU."""
    a = ops.linear(h, w_hh, b_hh) + gi
    return ops.tanh(a) if nonlinearity == "tanh" else ops.relu(a)


def lstm_step(
    gi: Tensor,
    h: Tensor,
    c: Tensor,
    w_hh: Tensor,
    b_hh: Tensor | None,
    w_hr: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    r"""LSTM step from the input projection :math:`g_i` (gates in PyTorch's order i, f, g, o):

    .. math::
        \begin{aligned}
        i &= \sigma(W_{ii} x + b_{ii} + W_{hi} h + b_{hi}) &
        f &= \sigma(W_{if} x + b_{if} + W_{hf} h + b_{hf}) \\
        g &= \tanh(W_{ig} x + b_{ig} + W_{hg} h + b_{hg}) &
        o &= \sigma(W_{io} x + b_{io} + W_{ho} h + b_{ho}) \\
        c' &= f \odot c + i \odot g &
        h' &= o \odot \tanh(c') \quad (h' \leftarrow h' W_{hr}^\top \text{ with a projection})
        \end{aligned}
    """
    gates = ops.linear(h, w_hh, b_hh) + gi
    i, f, g, o = _chunk(gates, 4)
    c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
    h = ops.sigmoid(o) * ops.tanh(c)
    if w_hr is not None:
        h = ops.linear(h, w_hr)
    return h, c


def gru_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    r"""GRU step from the input projection :math:`g_i` (gates in PyTorch's order r, z, n):

    .. math::
        \begin{aligned}
        r &= \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}) \\
        z &= \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}) \\
        n &= \tanh\bigl(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})\bigr) \\
        h' &= (1 - z) \odot n + z \odot h \;=\; n + z \odot (h - n)
        \end{aligned}

    The reset gate multiplies :math:`W_{hn} h + b_{hn}`, after the hidden bias (PyTorch's
    and cuDNN's placement; the original paper applies :math:`r` to :math:`h` before
    :math:`W_{hn}`). The last form, the one computed, is PyTorch's.
    """
    i_r, i_z, i_n = _chunk(gi, 3)
    h_r, h_z, h_n = _chunk(ops.linear(h, w_hh, b_hh), 3)
    r = ops.sigmoid(h_r + i_r)
    z = ops.sigmoid(h_z + i_z)
    n = ops.tanh(i_n + h_n * r)
    return (h - n) * z + n


# --------------------------------------------------------------------- shared checks
def _check_size(name: str, value, *, zero_ok: bool = False) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
    if value < 0 or (value == 0 and not zero_ok):
        raise ValueError(f"{name} must be greater than zero")


def _as_input(module: Module, x) -> Tensor:
    return layer_input(x, module.weight_ih_l0._array.dtype, module)


# --------------------------------------------------------------------- the layers
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}  # stacked in one weight


class RNNBase(Module):
    """What ``RNN``, ``LSTM`` and ``GRU`` share: the parameters of every layer and
    direction, their checks and initialisation, and the loop over layers and directions.
    ``mode`` is ``'RNN_TANH'``, ``'RNN_RELU'``, ``'LSTM'`` or ``'GRU'``."""

    # Mirrors PyTorch's signature; RNN, LSTM and GRU repeat it without mode.
    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if (
            not isinstance(dropout, numbers.Number)
            or isinstance(dropout, bool)
            or not 0 <= dropout <= 1
        ):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability "
                "of an element being zeroed"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                "dropout expects num_layers greater than 1, but got "
                f"dropout={dropout} and num_layers={num_layers}",
                stacklevel=3,
            )
        for name, flag in (("bias", bias), ("batch_first", batch_first)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} should be of type bool, got: {type(flag).__name__}")
        _check_size("input_size", input_size)
        _check_size("hidden_size", hidden_size)
        _check_size("num_layers", num_layers)
        _check_size("proj_size", proj_size, zero_ok=True)
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        check_device(type(self).__name__, device)  # the CPU, or a RuntimeError
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size

        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        directions = 2 if bidirectional else 1
        dt = _dt.or_default(dtype)
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else real_hidden * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = [
                    ("weight_ih", (gate_size, layer_in)),
                    ("weight_hh", (gate_size, real_hidden)),
                ]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes += [("weight_hr", (proj_size, hidden_size))]
                names = []
                for base, shape in shapes:
                    setattr(self, base + suffix, Parameter(empty(*shape, dtype=dt)))
                    names.append(base + suffix)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from :math:`U(-1/\\sqrt{H}, 1/\\sqrt{H})`, ``H = hidden_size``."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """Nothing to do: PyTorch packs the weights for cuDNN here; kept so that code
        calling it runs."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters of each layer and direction, in PyTorch's order."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def _layer_weights(self, layer: int, direction: int) -> tuple:
        suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
        bases = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        return tuple(getattr(self, base + suffix, None) for base in bases)

    # ----------------------------------------------------------- the forward pass
    def _states(self, hx, batched: bool, batch: int, dtype) -> list:
        """The initial states as a list of tensors (D * num_layers, N, H): checked or zeros."""
        directions = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        sizes = [real_hidden] + ([self.hidden_size] if self.mode == "LSTM" else [])
        expected = [(self.num_layers * directions, batch, size) for size in sizes]
        if hx is None:
            return [zeros(*shape, dtype=dtype) for shape in expected]
        given = list(hx) if self.mode == "LSTM" else [hx]
        if self.mode == "LSTM" and len(given) != 2:
            raise TypeError("LSTM: hx must be a tuple (h_0, c_0)")
        given = [layer_input(t, dtype, self) for t in given]
        dims = [t.ndim for t in given]
        if any(d != (3 if batched else 2) for d in dims):
            kind = "batched 3-D" if batched else "unbatched 2-D"
            what = "hx and cx" if self.mode == "LSTM" else "hx"
            got = (
                f"({', '.join(f'{d}-D' for d in dims)}) tensors"
                if self.mode == "LSTM"
                else f"{dims[0]}-D tensor"
            )
            raise ShapeError(
                f"For {kind} input, {what} should also be {3 if batched else 2}-D but got {got}"
            )
        if not batched:
            given = [t.unsqueeze(1) for t in given]
        for i, (t, shape) in enumerate(zip(given, expected)):
            if tuple(t.shape) != shape:
                which = f"hidden[{i}] size" if self.mode == "LSTM" else "hidden size"
                raise ShapeError(f"Expected {which} {shape}, got {list(t.shape)}")
        return given

    def forward(self, input, hx=None) -> tuple:
        """``(output, h_n)``; for ``LSTM`` ``(output, (h_n, c_n))``. See the module docstring
        for the shapes."""
        name = "RNN" if self.mode.startswith("RNN") else self.mode
        x = _as_input(self, input)
        if x.ndim not in (2, 3):
            raise ShapeError(f"{name}: Expected input to be 2D or 3D, got {x.ndim}D tensor instead")
        batched = x.ndim == 3
        batch_dim = 0 if self.batch_first else 1
        if not batched:
            x = x.unsqueeze(batch_dim)
        if self.batch_first:
            x = x.transpose(0, 1)
        if x.shape[-1] != self.input_size:
            raise ShapeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                f"got {x.shape[-1]}"
            )
        states = [_unbind(s) for s in self._states(hx, batched, x.shape[1], x.dtype)]
        directions = 2 if self.bidirectional else 1
        finals: list[list] = [[] for _ in states]
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                k = layer * directions + direction
                out, last = self._run(x, layer, direction, [s[k] for s in states])
                outputs.append(out)
                for store, value in zip(finals, last):
                    store.append(value)
            x = outputs[0] if directions == 1 else ops.cat(outputs, -1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = _dropout(x, self.dropout)
        output = x.transpose(0, 1) if self.batch_first else x
        last = [ops.stack(store, 0) for store in finals]
        if not batched:
            output = output.squeeze(batch_dim)
            last = [t.squeeze(1) for t in last]
        return output, (tuple(last) if self.mode == "LSTM" else last[0])

    def _run(self, x: Tensor, layer: int, direction: int, state: list) -> tuple:
        """One layer in one direction over the whole sequence ``x`` (L, N, H_in): the
        outputs (L, N, H) and the final state."""
        w_ih, w_hh, b_ih, b_hh, w_hr = self._layer_weights(layer, direction)
        steps = _unbind(ops.linear(x, w_ih, b_ih))  # every step's input projection at once
        order = range(len(steps)) if direction == 0 else range(len(steps) - 1, -1, -1)
        outputs = [None] * len(steps)
        if self.mode == "LSTM":
            h, c = state
            for t in order:
                h, c = lstm_step(steps[t], h, c, w_hh, b_hh, w_hr)
                outputs[t] = h
            return ops.stack(outputs, 0), (h, c)
        (h,) = state
        for t in order:
            if self.mode == "GRU":
                h = gru_step(steps[t], h, w_hh, b_hh)
            else:
                h = rnn_step(steps[t], h, w_hh, b_hh, "tanh" if self.mode == "RNN_TANH" else "relu")
            outputs[t] = h
        return ops.stack(outputs, 0), (h,)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + changed_options(
            self,
            proj_size=0,
            num_layers=1,
            bias=True,
            batch_first=False,
            dropout=0,
            bidirectional=False,
        )


def _dropout(x: Tensor, p: float) -> Tensor:
    # PyTorch allows p = 1 between layers (everything dropped); F.dropout stops below 1.
    return x * 0.0 if p >= 1 else dropout(x, p, True)


class RNN(RNNBase):
    r"""A multi-layer Elman RNN: at each step :math:`t`, in each layer,

    .. math::
        h_t = \tanh(x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh})

    (ReLU instead of tanh with ``nonlinearity='relu'``); :math:`x_t` is the input for the
    first layer and the previous layer's :math:`h_t` (after dropout, in training) above.
    Parameters ``weight_ih_l{k}`` (H, H_in or D*H), ``weight_hh_l{k}`` (H, H),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (H,), with ``_reverse`` for the backward direction.
    Returns ``(output, h_n)``. Backprop through time multiplies one Jacobian
    :math:`\operatorname{diag}(\phi'(a_t)) W_{hh}` per step: see the module docstring.
    """

    # Mirrors PyTorch's signature (RNNBase's options, in its order).
    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        self.nonlinearity = nonlinearity
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        options = (input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)
        super().__init__(mode, *options, device=device, dtype=dtype)


class LSTM(RNNBase):
    r"""A multi-layer long short-term memory network: each layer runs :func:`lstm_step`
    over the sequence, gates stacked in the weights in PyTorch's order (i, f, g, o):
    ``weight_ih_l{k}`` (4H, H_in or D*H_out), ``weight_hh_l{k}`` (4H, H_out), biases (4H,);
    with ``proj_size`` P > 0, also ``weight_hr_l{k}`` (P, H) and :math:`h_t` of size P.
    Returns ``(output, (h_n, c_n))``; ``hx`` is ``(h_0, c_0)``. The cell state's gradient
    is scaled by the forget gate at each step, not by a full Jacobian: see the module
    docstring.
    """

    # Mirrors PyTorch's signature (RNNBase's options, in its order).
    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        options = (input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)
        super().__init__("LSTM", *options, proj_size, device, dtype)


class GRU(RNNBase):
    r"""A multi-layer gated recurrent unit network: each layer runs :func:`gru_step` over
    the sequence, gates stacked in PyTorch's order (r, z, n): ``weight_ih_l{k}``
    (3H, H_in or D*H), ``weight_hh_l{k}`` (3H, H), biases (3H,). Returns
    ``(output, h_n)``.
    """

    # Mirrors PyTorch's signature (RNNBase's options, in its order).
    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        options = (input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)
        super().__init__("GRU", *options, device=device, dtype=dtype)
