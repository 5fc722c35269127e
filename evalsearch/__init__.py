"""evalsearch: 事務事業評価シートの検索・比較エンジン.

``evalsearch.open(DIR)`` opens an index (see evalsearch.handle)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.3.0"

if TYPE_CHECKING:
    from evalsearch.handle import Index
    from evalsearch.handle import open_index as open

__all__ = ["Index", "__version__", "open"]


def __getattr__(name: str) -> Any:
    # Lazy on purpose: `import evalsearch.parse` (the build's worker processes) must not pull
    # in the handle and, through it, the search engine.
    if name == "open":
        from evalsearch.handle import open_index

        return open_index
    if name == "Index":
        from evalsearch.handle import Index

        return Index
    raise AttributeError(f"module 'evalsearch' has no attribute {name!r}")
