"""Tabular binary classification: loading and checking the data, the loan-default MLP."""
