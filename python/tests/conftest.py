"""Shared fixtures: the repository's example atlases and fresh resolvers."""

from __future__ import annotations

import os
from typing import Iterator

import pytest

import cra

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ATLASES = os.path.join(REPO, "examples", "atlases")
SUPPORT = os.path.join(ATLASES, "customer-support")
DEVOPS = os.path.join(ATLASES, "devops")


@pytest.fixture
def resolver() -> Iterator[cra.Resolver]:
    """A deterministic resolver with both example atlases loaded."""
    with cra.Resolver(deterministic=1) as r:
        r.load_atlas(SUPPORT)
        r.load_atlas(DEVOPS)
        yield r


@pytest.fixture
def support(resolver: cra.Resolver) -> cra.Resolution:
    """A resolution for support-bot-1 in session s-1 (customer-support atlas)."""
    return resolver.resolve(agent="support-bot-1", session="s-1", goal="refund ORD-1234",
                            atlas_ids=["com.example.customer-support"])
