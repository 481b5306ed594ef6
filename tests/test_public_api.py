"""Each package re-exports its public names in a sorted ``__all__`` that resolves."""

from __future__ import annotations
import __future__

import importlib
import inspect
import pkgutil

import pytest

import shoprec

PACKAGES = [
    name
    for _, name, is_package in pkgutil.walk_packages(shoprec.__path__, "shoprec.")
    if is_package
]


def isort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions (ruff RUF022's isort-style order)."""
    if name.isupper() or name.strip("_").isupper():
        return 0, name
    return (1 if name[:1].isupper() else 2), name


@pytest.mark.parametrize("name", ["shoprec", *PACKAGES])
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert list(exported) == sorted(exported, key=isort_key)
    for symbol in exported:
        assert hasattr(module, symbol), f"{name}.__all__ names missing {symbol}"


@pytest.mark.parametrize("name", ["shoprec", *PACKAGES])
def test_all_is_complete(name: str) -> None:
    """Every public name a package defines or imports is exported (httpx's check)."""
    module = importlib.import_module(name)
    public = {
        symbol
        for symbol, value in vars(module).items()
        if (not symbol.startswith("_") or symbol in module.__all__)
        and not inspect.ismodule(value)
        and not isinstance(value, __future__._Feature)
    }
    assert set(module.__all__) == public
