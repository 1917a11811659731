r"""Text typed by a user, shown back in the page's Markdown: escaped, so it reads exactly as typed.

Gradio renders Markdown with inline HTML allowed: a typed `<b>` would become bold, `<unk>` or a `<script>`
would vanish, `*word*` would turn italic. Every note and problem the demo shows passes through here.

    >>> escape("<b>king</b> *x*")
    '&lt;b&gt;king&lt;/b&gt; \\*x\\*'
    >>> notes(["'cow' is not in the vocabulary of glove.", "nnlm reads 'zxqv' as <unk>."])
    "- 'cow' is not in the vocabulary of glove.\n- nnlm reads 'zxqv' as &lt;unk&gt;."
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

# Markdown's active characters (GFM: tables, strike-through; $: LaTeX), escaped with a backslash; '(' and
# ')' only act after a ']', which is escaped, so they stay readable for API clients
_ACTIVE = re.compile(r"([\\`*_\[\]#+!|~$])")
PROBLEM_MARK = "⚠️"


def escape(text: object) -> str:
    """`text` as Markdown that renders as the same characters: HTML escaped, Markdown syntax neutralised."""
    return _ACTIVE.sub(r"\\\1", html.escape(str(text), quote=False)).replace("\n", " ")


def notes(lines: Sequence[str]) -> str:
    """Plain-text note lines as a Markdown list (empty when there is nothing to say)."""
    return "\n".join(f"- {escape(line)}" for line in lines if line)


def problem(message: str) -> str:
    """A problem with the query, shown in place of the answer (one line, marked)."""
    return f"{PROBLEM_MARK} **{escape(message)}**"
