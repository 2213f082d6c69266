"""Seeing inside a network (see the modules)."""

__all__: list[str] = []
