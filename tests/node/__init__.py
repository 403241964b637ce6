"""Tests of the node (``astera.node``): a package so its conftest does not shadow tests/conftest.py."""
