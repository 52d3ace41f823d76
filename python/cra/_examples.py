"""The example atlases shipped inside the package (``cra/examples/``).

In the repository ``python/cra/examples`` is a symbolic link to ``examples/atlases``; maturin
packs the files it points at into the wheel and the sdist (``include`` in pyproject.toml), so an
installed package has real copies: ``cra demo`` and ``cra.example_atlas(...)`` work from any
directory.
"""

from __future__ import annotations

import os

__all__ = ["example_atlas", "packaged_atlases"]


def packaged_atlases() -> str:
    """The example atlases shipped inside the package (``cra/examples``: customer-support and
    devops, each with its policy tests), present in every wheel and sdist."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples")


def example_atlas(name: str) -> str:
    """The directory of a packaged example atlas (``"customer-support"`` or ``"devops"``), for
    ``Resolver.load_atlas``; works from any directory after ``pip install``."""
    path = os.path.join(packaged_atlases(), name)
    if not os.path.isfile(os.path.join(path, "atlas.json")):
        base = packaged_atlases()
        names = sorted(n for n in os.listdir(base) if not n.startswith(("_", "."))) if os.path.isdir(base) else []
        raise ValueError(f"no packaged example atlas {name!r} (there are: {', '.join(names)})")
    return path
