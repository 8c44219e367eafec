"""Griffe extension: render docstring examples (``>>>`` blocks) as Python console code.

gpugrad's docstrings hold bare doctest blocks, as ``doctest`` reads them. In Markdown a line
starting with ``>`` is a block quote, so each block (from a ``>>>`` line to the next blank
line) is fenced as ``pycon`` before mkdocstrings renders the docstring; doctest directives
(``# doctest: +SKIP``) are dropped from the page.
"""
import re

import griffe

_DIRECTIVE = re.compile(r"\s*#\s*doctest:.*$")


def fence_examples(text):
    """``text`` with every bare ``>>>`` block wrapped in a pycon fence."""
    out, in_fence, in_example = [], False, False
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and not in_example and stripped.startswith(">>>"):
            out.append("```pycon")
            in_example = True
        elif in_example and not stripped:
            out.append("```")
            in_example = False
        out.append(_DIRECTIVE.sub("", line) if in_example else line)
    if in_example:
        out.append("```")
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    """Fence the examples of every loaded object's docstring."""

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_examples(obj.docstring.value)
