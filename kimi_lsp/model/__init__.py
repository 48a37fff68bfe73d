"""The model side of the server: the engine interface and its clients, running one generation, and the
`EngineHost` that owns the engine's whole life. Knows nothing of LSP documents or prompts' contents."""
