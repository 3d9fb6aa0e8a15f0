"""The closed "For developers" fold inside Markdown: commands and file names stay out of what a
visitor reads first, one click away for whoever runs the app."""


def developer_fold(text: str) -> str:
    """Markdown (HTML `<details>`) showing `text` only when the visitor opens the fold."""
    return f"<details><summary>For developers</summary>\n\n{text}\n\n</details>"
