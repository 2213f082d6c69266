"""``chainrule diagnose``: build a model as ``chainrule train`` would and diagnose its
gradient flow on one batch of the training data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chainrule import generator as _random
from chainrule import nn
from chainrule.diagnostics.flow import gradient_flow
from chainrule.diagnostics.report import FlowReport
from chainrule.train import recipes

__all__ = ["diagnose"]


def diagnose(options, out_dir) -> tuple[FlowReport, Path]:
    """Diagnose the model that ``options`` (``chainrule diagnose``'s arguments: data,
    model, ``init`` with ``normal`` and ``init_std``, ``loss``, ``batch_size``, ``seed``)
    describe, on the first ``batch_size`` training samples; write ``diagnose.png`` into
    ``out_dir``. Returns the report and the plot's path."""
    _random.manual_seed(options.seed)
    splits, spec = recipes.load_data(options)
    x, y = splits.train.tensors
    n = min(options.batch_size, x.shape[0])
    inputs, targets = x[:n], y[:n]
    if spec.targets is not None:
        targets = spec.targets(np.asarray(targets._array))
    normal = options.init == "normal"
    model = recipes.build_model(
        splits.input_shape,
        spec.outputs,
        options.model,
        options.hidden,
        options.activation,
        options.dropout,
        options.batchnorm,
        "default" if normal else options.init,
    )
    if normal:  # N(0, std^2) weights, zero biases: how an exploding network is made
        for m in model.modules():
            if isinstance(m, nn.Linear | nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, options.init_std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
    report = gradient_flow(model, spec.fn, inputs, targets)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    init = f"normal({options.init_std:g})" if normal else options.init
    title = (
        f"{options.data}: {options.model} {','.join(map(str, options.hidden))} "
        f"{options.activation}, init {init}: {report.verdict}"
    )
    return report, report.plot(out / "diagnose.png", title=title)
