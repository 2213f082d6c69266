"""``cr.utils``: PyTorch's ``torch.utils`` paths, so ``cr.utils.data.DataLoader`` and
``from chainrule.utils.data import DataLoader`` work where PyTorch code says ``torch``."""

from chainrule.utils import data

__all__ = ["data"]
