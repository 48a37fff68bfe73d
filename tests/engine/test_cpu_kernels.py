"""engine/cpu/sgl_kernel: the pure-torch stand-in matches the triton kernel's contract (torch only)."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest
from kimi_engine.launch import CPU_KERNEL_DIR

torch = pytest.importorskip("torch")


def _load() -> ModuleType:
    # Loaded under a private name: engine/cpu must not go on this process's sys.path.
    spec = importlib.util.spec_from_file_location(
        "kimi_sgl_kernel_under_test", CPU_KERNEL_DIR / "sgl_kernel" / "__init__.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_assign_req_to_token_pool_writes_each_requests_slots() -> None:
    sk = _load()
    table = torch.zeros((4, 16), dtype=torch.int32)
    rows = torch.tensor([2, 0, 3])
    start = torch.tensor([3, 0, 5])
    end = torch.tensor([5, 4, 5])  # lengths 2, 4, 0
    locs = torch.arange(100, 106, dtype=torch.int64)
    sk.assign_req_to_token_pool_cpu(rows, table, start, end, locs, table.shape[1])
    expected = torch.zeros((4, 16), dtype=torch.int32)
    expected[2, 3:5] = torch.tensor([100, 101])
    expected[0, 0:4] = torch.tensor([102, 103, 104, 105])
    assert torch.equal(table, expected)


def test_other_kernels_import_but_raise_when_called() -> None:
    sk = _load()
    from_import = sk.copy_all_layer_kv_cache_cpu  # SGLang imports it at module level
    with pytest.raises(NotImplementedError, match="copy_all_layer_kv_cache_cpu"):
        from_import(None)
    with pytest.raises(AttributeError):
        sk.__wrapped__  # noqa: B018 - dunders stay real AttributeErrors


def test_registers_no_torch_ops() -> None:
    _load()
    schemas = [s.name for s in torch._C._jit_get_all_schemas()]
    assert schemas and not [name for name in schemas if name.startswith("sgl_kernel::")]
