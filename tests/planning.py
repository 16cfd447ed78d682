"""Build plans for the build-core tests: the gate's image and containers stages on a config,
without a policy, so the build core is tested on exactly what a gate would hand it."""

from __future__ import annotations

from lkpolicy.assemble.plan import BuildPlan
from lkpolicy.gate.plan import plan_of
from lkpolicy.model.config import Config
from lkpolicy.model.oci import Platform
from lkpolicy.stages.containers import effective_configs
from lkpolicy.stages.images import resolve_images
from lkpolicy.stages.localfiles import read_local_files
from lkpolicy.store.location import ImageOptions
from lkpolicy.store.lookup import Store

AMD64 = Platform("linux", "amd64")


def plan_build(config: Config, store: Store, platform: Platform = AMD64, *,
               cwd: str | None = None, home: str | None = None) -> BuildPlan:
    resolution = resolve_images(config, ImageOptions(cache=str(store.root),
                                                     arch=platform.architecture))
    containers, _findings = effective_configs(config, resolution)
    files, _problems = read_local_files(config, cwd=cwd, home=home)
    return plan_of(resolution, containers, files)
