"""Every experiment by name, in the order of docs/fundamentals.md."""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from chainrule.lab.base import Config

__all__ = ["SECTIONS", "Experiment", "get", "names"]

#: The sections of ``docs/fundamentals.md``, by number.
SECTIONS = {
    1: "Backpropagation",
    2: "Vanishing and exploding gradients",
    3: "Activations, softmax and cross-entropy",
    4: "Parameter updates",
    5: "Overfitting and its remedies",
    6: "Loss functions and risk",
}

# One module per experiment under chainrule/lab/experiments, in the order of the report.
_MODULES = (
    "backprop_by_hand",
    "zero_init_symmetry",
    "vanishing_gradients",
    "exploding_gradients",
    "activations",
    "softmax_ce_gradient",
    "softmax_overflow",
    "naive_vs_fused_cross_entropy",
    "reduce_mean_pitfall",
    "minibatch_redundancy",
    "optimizer_paths",
    "optimizer_race",
    "momentum_and_nesterov_forms",
    "adam_bias_correction",
    "overfitting_remedies",
    "dropout_train_vs_eval",
    "batchnorm_activations",
    "loss_surrogates",
    "l1_vs_l2",
    "structural_risk",
)


def _first_paragraph(doc: str) -> str:
    return " ".join(doc.strip().split("\n\n")[0].split())


@dataclass(frozen=True)
class Experiment:
    """One experiment: what it claims and the module that runs, checks and plots it."""

    name: str
    section: int
    claim: str
    derivation: str
    module: ModuleType

    @property
    def section_title(self) -> str:
        return f"{self.section}. {SECTIONS[self.section]}"

    @property
    def source(self) -> Path:
        """The experiment's source file."""
        return Path(self.module.__file__)

    @property
    def source_path(self) -> str:
        """The source file's path in the repository."""
        return f"src/chainrule/lab/experiments/{self.source.name}"

    def config(self, smoke: bool = False, seed: int = 0) -> Config:
        """The full run's config, or the smoke run's, for ``seed``."""
        overrides = dict(self.module.SMOKE) if smoke else {}
        return self.module.Config(seed=seed, smoke=smoke, **overrides)

    def run(self, config: Config):
        return self.module.run(config)

    def check(self, result) -> list:
        return self.module.check(result)

    def plot(self, result, out_dir) -> list:
        return self.module.plot(result, Path(out_dir))

    @classmethod
    def from_module(cls, module: ModuleType) -> Experiment:
        for attr in ("NAME", "SECTION", "DERIVATION", "Config", "SMOKE", "run", "check", "plot"):
            if not hasattr(module, attr):
                raise TypeError(f"lab experiment {module.__name__} does not define {attr}")
        if not dataclasses.is_dataclass(module.Config) or not issubclass(module.Config, Config):
            raise TypeError(f"{module.__name__}.Config must be a dataclass derived from lab.Config")
        return cls(
            module.NAME,
            module.SECTION,
            _first_paragraph(module.__doc__ or ""),
            " ".join(module.DERIVATION.split()),
            module,
        )


_REGISTRY: dict[str, Experiment] = {}


def _load() -> dict[str, Experiment]:
    if not _REGISTRY:
        for mod in _MODULES:
            exp = Experiment.from_module(
                importlib.import_module(f"chainrule.lab.experiments.{mod}")
            )
            _REGISTRY[exp.name] = exp
    return _REGISTRY


def names() -> list[str]:
    """Every experiment's name, in the order of docs/fundamentals.md."""
    return list(_load())


def get(name: str) -> Experiment:
    """The experiment called ``name``; an unknown name raises a ``ValueError`` listing
    the known ones."""
    registry = _load()
    if name not in registry:
        close = difflib.get_close_matches(name, registry, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown experiment {name!r}{hint}; known: {', '.join(registry)}")
    return registry[name]
