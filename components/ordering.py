"""Orderings that matter only when a run applies changes.

A `depends_on` makes the SDK wait for the dependency's registration before it registers the
dependent; in a preview every registration waits for the engine's check and diff of what it
depends on, so each edge lengthens the chain of round trips a no-op preview (every PR check)
waits through. Where the order only matters for what an `up` does (the pull secrets after the
registry that must accept their new credential, a container after the files it mounts), the edge
is declared only when the run applies: a preview plans the same steps either way (dependencies
are not diffed), and the state an `up` writes records the edge for destroy and later runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi


def when_applying(resources: Sequence[pulumi.Resource]) -> list[pulumi.Resource]:
    """`resources` during `pulumi up` or `destroy`; none during a preview."""
    return [] if pulumi.runtime.is_dry_run() else list(resources)
