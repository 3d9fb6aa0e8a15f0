"""DL Studio core: every piece of logic the app uses, importable without gradio."""
