"""Tree-sitter parsing and the workspace index (symbols, imports). No network, no model calls."""
