"""Gradient descent on functions a user types: safe parsing, the methods, what the tab shows."""
