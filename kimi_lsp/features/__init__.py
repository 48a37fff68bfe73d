"""One module per LSP feature. Handlers are recipes: snapshot, compute, convert, return."""
