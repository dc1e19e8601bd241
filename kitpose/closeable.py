"""The one context-manager block: objects that hold sessions, engines, sockets or buffers release
them in `close()`, and `with obj:` calls it on the way out (runners, pipelines, clients).

Torch-free, so `kitpose.runtime` and `kitpose.serving` can use it.
"""
from __future__ import annotations


class Closeable:
    """Mixin: `with obj as o:` gives obj itself and calls obj.close() when the block ends."""

    def close(self) -> None:
        """Release what the object holds; subclasses override it."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
