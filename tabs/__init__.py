"""One module per tab: layout, input checks and calls into `core`; no logic of their own."""
