"""``cr.utils.data``: PyTorch's ``torch.utils.data`` names, which are chainrule's own data
tools (``chainrule/data/``) under PyTorch's path: ``Dataset``, ``TensorDataset``,
``Subset``, ``ConcatDataset``, ``random_split``, ``DataLoader``, ``Sampler``,
``default_collate`` and ``get_worker_info``. Loading runs in the calling process (see ``chainrule/data/loader.py``).
"""

from chainrule.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from chainrule.data.loader import DataLoader, default_collate, get_worker_info
from chainrule.data.sampler import Sampler

__all__ = [
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "Sampler",
    "Subset",
    "TensorDataset",
    "default_collate",
    "get_worker_info",
    "random_split",
]
