"""Data: datasets, the loader, and every data set behind ``cr.data.load(name)``."""

from chainrule.data import idx, synthetic
from chainrule.data.dataset import (
    ConcatDataset,
    Dataset,
    Subset,
    TensorDataset,
    random_split,
    validation_split,
)
from chainrule.data.loader import DataLoader, default_collate, get_worker_info
from chainrule.data.registry import DATASETS, Splits, available, load

__all__ = [
    "DATASETS",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "Splits",
    "Subset",
    "TensorDataset",
    "available",
    "default_collate",
    "get_worker_info",
    "idx",
    "load",
    "random_split",
    "synthetic",
    "validation_split",
]
