"""Astera Lend in Python.

An exact-integer implementation of the Astera Lend protocol: a Core-Pool of
blue-chip liquidity extending capped credit lines to isolated Mini-Pools,
plus the node, keeper and risk lab around it.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
