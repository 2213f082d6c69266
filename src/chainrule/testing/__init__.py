"""Tools for verifying chainrule against references: the op table (``opinfo``)."""
