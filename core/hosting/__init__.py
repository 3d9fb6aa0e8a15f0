"""Where and how the app runs: what each tool computes with, and Hugging Face Spaces support."""
