"""The studies' reports: one writer per study, plus the shared markdown and figure helpers."""
