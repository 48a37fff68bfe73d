"""What the model is shown: context assembly, templates, healing and cross-file context. Pure: index data
and a snapshot in, a `Prompt` out; no I/O, no engine, no server."""
