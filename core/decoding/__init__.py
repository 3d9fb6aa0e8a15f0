"""Text generation: the language model, decoding strategies written by hand, what the tab shows."""
