"""The NumPy-2 shim for caikit's HTTP server: added only when missing, only that attribute."""

import numpy as np
import pytest

from medcat_den.caikit.numpy_compat import apply_numpy_compat, needs_numpy_compat


def test_shim_is_needed_by_caikit_and_fixes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from caikit.runtime.http_server.pydantic_wrapper import _get_pydantic_type

    monkeypatch.delattr(np, "issubclass_", raising=False)  # as in a fresh NumPy 2 process
    assert needs_numpy_compat()
    with pytest.raises(AttributeError, match="issubclass_"):
        _get_pydantic_type(np.int64)
    before = set(vars(np))
    assert apply_numpy_compat() is True
    assert set(vars(np)) - before == {"issubclass_"}  # nothing else touched
    assert _get_pydantic_type(np.int64) is int and _get_pydantic_type(np.float32) is float
    assert np.issubclass_(np.int64, np.integer) and not np.issubclass_(3, int)
    assert apply_numpy_compat() is False  # idempotent


def test_shim_not_applied_when_numpy_has_the_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    def native(a: object, b: object) -> bool:
        return False

    monkeypatch.setattr(np, "issubclass_", native, raising=False)
    assert not needs_numpy_compat()
    assert apply_numpy_compat() is False
    assert np.issubclass_ is native
