"""Step "library": our JavaScript library (web/lib) into dist/lib/, as it is."""

from __future__ import annotations

from . import config
from .common import Site
from .demo import copy_tree


def step(site: Site) -> None:
    site.add(*copy_tree(config.WEB / "lib", config.LIB))
