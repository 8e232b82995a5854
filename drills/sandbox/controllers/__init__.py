"""Level-triggered controllers of the sandbox: each `sync()` reconciles the whole store once."""
