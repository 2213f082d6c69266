"""Data: datasets, the loader, and every data set behind ``cr.data.load(name)``."""

from chainrule.data import idx, synthetic
from chainrule.data.dataset import DataLoader, Dataset, TensorDataset, validation_split
from chainrule.data.registry import DATASETS, Splits, available, load

__all__ = [
    "DATASETS",
    "DataLoader",
    "Dataset",
    "Splits",
    "TensorDataset",
    "available",
    "idx",
    "load",
    "synthetic",
    "validation_split",
]
