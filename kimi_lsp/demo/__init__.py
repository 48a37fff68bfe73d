"""`make demo`: the language server on the embedded engine, driven through a short editing session."""
