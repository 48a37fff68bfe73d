"""engine/cpu/sgl_kernel: the pure-torch stand-in matches the triton kernel's contract (torch only).

torch is in the engine's environment (.venv-engine), not the server's: each check runs there, in a fresh
interpreter, with the stand-in loaded under a private name (engine/cpu must not go on sys.path)."""

from __future__ import annotations

import subprocess
import textwrap

from kimi_engine.launch import CPU_KERNEL_DIR

LOAD = f"""
import importlib.util
import torch
spec = importlib.util.spec_from_file_location(
    "kimi_sgl_kernel_under_test", {str(CPU_KERNEL_DIR / "sgl_kernel" / "__init__.py")!r}
)
sk = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sk)
"""


def _run(engine_python: str, check: str) -> None:
    done = subprocess.run(
        [engine_python, "-c", LOAD + textwrap.dedent(check)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr


def test_assign_req_to_token_pool_writes_each_requests_slots(engine_python: str) -> None:
    _run(
        engine_python,
        """
        table = torch.zeros((4, 16), dtype=torch.int32)
        rows = torch.tensor([2, 0, 3])
        start = torch.tensor([3, 0, 5])
        end = torch.tensor([5, 4, 5])  # lengths 2, 4, 0
        locs = torch.arange(100, 106, dtype=torch.int64)
        sk.assign_req_to_token_pool_cpu(rows, table, start, end, locs, table.shape[1])
        expected = torch.zeros((4, 16), dtype=torch.int32)
        expected[2, 3:5] = torch.tensor([100, 101])
        expected[0, 0:4] = torch.tensor([102, 103, 104, 105])
        assert torch.equal(table, expected), table
        """,
    )


def test_other_kernels_import_but_raise_when_called(engine_python: str) -> None:
    _run(
        engine_python,
        """
        from_import = sk.copy_all_layer_kv_cache_cpu  # SGLang imports it at module level
        try:
            from_import(None)
        except NotImplementedError as error:
            assert "copy_all_layer_kv_cache_cpu" in str(error), error
        else:
            raise AssertionError("no NotImplementedError")
        try:
            sk.__wrapped__
        except AttributeError:
            pass  # dunders stay real AttributeErrors
        else:
            raise AssertionError("sk.__wrapped__ exists")
        """,
    )


def test_registers_no_torch_ops(engine_python: str) -> None:
    _run(
        engine_python,
        """
        schemas = [s.name for s in torch._C._jit_get_all_schemas()]
        assert schemas and not [name for name in schemas if name.startswith("sgl_kernel::")]
        """,
    )
