r"""Embeddings: a lookup table of learned vectors, and one-hot codes.

``embedding(idx, W)`` is row selection, :math:`y_{\ldots} = W_{\mathrm{idx}_{\ldots}}`,
the same numbers as ``one_hot(idx) @ W`` without building the one-hot matrix. Its
gradient is therefore :math:`\bar W = \mathrm{one\_hot}(\mathrm{idx})^\top \bar Y`: each
row of W receives the sum of the output gradients of the positions that looked it up
(rows never looked up get 0). It is composed from indexing, whose backward adds at
repeated indices, so nothing new is derived here.

Options, as in PyTorch:

* ``padding_idx``: that row's gradient is 0 (it stays what it was, usually zeros, a
  "no token" vector), though it is still looked up;
* ``max_norm``: before the lookup, every row that will be looked up and whose
  ``norm_type``-norm exceeds ``max_norm`` is scaled, in place and outside autograd, by
  ``max_norm / (norm + 1e-7)``;
* ``scale_grad_by_freq``: each row's gradient is divided by how many times the batch
  looked it up.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule import dtypes as _dt
from chainrule._backend import xp
from chainrule._recording import replayable
from chainrule.autograd.grad_mode import no_grad
from chainrule.errors import ShapeError
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter, changed_options
from chainrule.ops.indexing import getitem
from chainrule.ops.selection import where
from chainrule.tensor import Tensor, _make, as_tensor, empty

__all__ = ["Embedding", "embedding", "one_hot"]


def _indices(input, op: str):
    idx = input._array if isinstance(input, Tensor) else xp.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: the indices must be an integer tensor, got dtype {idx.dtype}")
    return idx


def _padding_row(padding_idx, rows: int, op: str):
    """``padding_idx`` in [0, rows) (negative counts from the end), or None."""
    if padding_idx is None:
        return None
    if not -rows <= padding_idx < rows:
        raise ValueError(
            f"{op}: padding_idx must be within the {rows} embeddings ([-{rows}, {rows})), "
            f"got {padding_idx}"
        )
    return int(padding_idx) % rows


@replayable  # a write into the weight that depends on the indices: cr.compile repeats it
def _renorm_(weight: Tensor, idx, max_norm: float, norm_type: float) -> None:
    """Scale the looked-up rows whose norm exceeds ``max_norm`` down to it, in place."""
    rows = np.unique(idx)
    values = weight._array[rows].astype(np.float64)
    a = np.abs(values)
    if norm_type == math.inf:
        norms = a.max(axis=1)
    elif norm_type == 0:
        norms = (a != 0).sum(axis=1).astype(np.float64)
    else:
        norms = (a**norm_type).sum(axis=1) ** (1.0 / norm_type)
    big = norms > max_norm
    if big.any():
        scale = max_norm / (norms[big] + 1e-7)
        weight._array[rows[big]] = values[big] * scale[:, None]
        weight._bump_version()


def embedding(
    input,
    weight,
    padding_idx=None,
    max_norm=None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
):
    """Rows of ``weight`` (num_embeddings, dim) picked by the integer tensor ``input`` of
    any shape: the result has shape (*input.shape, dim). See the module docstring."""
    w = as_tensor(weight)
    if w.ndim != 2:
        raise ShapeError(
            f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape "
            f"{tuple(w.shape)}"
        )
    if sparse:
        raise ValueError(
            "embedding: sparse=True is not supported (chainrule has no sparse gradients); "
            "with sparse=False the gradient holds the same values, as a dense tensor"
        )
    idx = _indices(input, "embedding")
    n = w.shape[0]
    pad = _padding_row(padding_idx, n, "embedding")
    padded, mask = _check_indices(idx, n, pad)
    if max_norm is not None and idx.size:
        _renorm_(w, idx, float(max_norm), float(norm_type))
    rows = getitem(w, idx)
    if scale_grad_by_freq and idx.size:
        share = _frequency_share(idx, w._array.dtype)
        fixed = rows.detach()
        # The same values (the difference is exactly 0), with the gradient scaled by share.
        rows = fixed + (rows - fixed) * _make(share, None, False)
    if padded:
        rows = where(_make(mask, None, False), rows.detach(), rows)
    return rows


# The value checks and decisions of ``embedding`` and ``one_hot``, as replayable
# functions: a step captured by cr.compile runs them again on every call's indices.
@replayable
def _check_indices(idx, n: int, pad) -> tuple:
    """Check that every index is a row; then whether any is the padding row ``pad`` (None:
    no padding row), and where (shaped (*idx, 1)). With a padding row this is a guard:
    a captured step records again when a batch starts or stops holding padding."""
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(
            f"embedding: indices must lie in [0, {n}) for {n} embeddings, got values from "
            f"{idx.min()} to {idx.max()}"
        )
    if pad is None:
        return None, None
    at = idx == pad
    if at.any():
        return True, at[..., None]
    return False, None


@replayable
def _frequency_share(idx, dtype):
    """1 / (how many times the batch looks up each position's row), shaped (*idx, 1)."""
    _, inverse, counts = np.unique(idx, return_inverse=True, return_counts=True)
    return (1.0 / counts[inverse.reshape(idx.shape)]).astype(dtype)[..., None]


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """(*, num_classes) int64 codes: 1 at each value's index, 0 elsewhere;
    ``num_classes=-1`` takes the largest value plus one."""
    idx = _indices(tensor, "one_hot")
    if idx.dtype != np.int64:
        raise TypeError(f"one_hot: the input must be an int64 tensor, got dtype {idx.dtype}")
    if num_classes == -1:
        if idx.size == 0:
            raise ValueError(
                "one_hot: cannot infer the number of classes from an empty tensor; give num_classes"
            )
        num_classes = _class_count(idx)
    return _make(_one_hot(idx, num_classes), None, False)


@replayable
def _class_count(idx) -> int:
    """The largest class plus one: a guard (the result's shape depends on it)."""
    return int(idx.max()) + 1


@replayable
def _one_hot(idx, num_classes: int):
    if idx.size and idx.min() < 0:
        raise ValueError(f"one_hot: class values must be non-negative, got {idx.min()}")
    if idx.size and idx.max() >= num_classes:
        raise ValueError(
            f"one_hot: class values must be smaller than num_classes={num_classes}, got {idx.max()}"
        )
    out = xp.zeros((*idx.shape, num_classes), dtype=np.int64)
    xp.put_along_axis(out, idx[..., None], 1, axis=-1)
    return out


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim`` (``weight``,
    initialised N(0, 1) as in PyTorch, the ``padding_idx`` row zero), looked up by
    integer indices: input (*) -> output (*, embedding_dim)."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx=None,
        max_norm=None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight=None,
        _freeze: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = _padding_row(padding_idx, num_embeddings, "Embedding")
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            dt = _dt.or_default(dtype)
            self.weight = Parameter(empty(num_embeddings, embedding_dim, dtype=dt), not _freeze)
            self.reset_parameters()
        else:
            w = as_tensor(_weight)
            if tuple(w.shape) != (num_embeddings, embedding_dim):
                raise ShapeError(
                    f"Embedding: _weight must have shape ({num_embeddings}, {embedding_dim}), "
                    f"got {tuple(w.shape)}"
                )
            self.weight = Parameter(w, not _freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx].fill_(0)

    @classmethod
    def from_pretrained(
        cls,
        embeddings,
        freeze: bool = True,
        padding_idx=None,
        max_norm=None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An Embedding whose weight is ``embeddings`` (shared, not copied); frozen
        (``requires_grad=False``) unless ``freeze=False``."""
        w = as_tensor(embeddings)
        if w.ndim != 2:
            raise ShapeError(
                f"Embedding.from_pretrained: embeddings must be 2-D, got shape {tuple(w.shape)}"
            )
        return cls(
            w.shape[0],
            w.shape[1],
            padding_idx,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            sparse,
            _weight=w,
            _freeze=freeze,
        )

    def forward(self, input):
        return embedding(
            input,
            self.weight,
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.sparse,
        )

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}" + changed_options(
            self,
            padding_idx=None,
            max_norm=None,
            norm_type=2,
            scale_grad_by_freq=False,
            sparse=False,
        )
