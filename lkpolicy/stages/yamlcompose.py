"""YAML node graphs from ruamel.yaml's round-trip reader, scanner, parser and composer, without
the rest of ruamel.yaml.

Importing `ruamel.yaml`, or any module of it, runs the package's `__init__`, which imports the
whole library: the dumper, emitter, representer, serializer and constructor that a check never
runs (about a third of the library's import time, on every commit). This module registers the
package without running that `__init__`, and runs it on the first use of a name the package
itself defines (`ruamel.yaml.YAML`, say), so code that wants the whole library still gets it.
`compose_all` then drives the five modules a node graph needs (import ruamel's errors from here,
so that this module comes first), exactly as
`YAML(typ="rt", pure=True).compose_all` drives them: tests/test_yamlcompose.py compares both
on every config, label and policy the tests know, and on broken YAML.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["MarkedYAMLError", "YAMLError", "compose_all"]


def _register_package_lazily() -> None:
    if "ruamel.yaml" in sys.modules:
        return
    spec = importlib.util.find_spec("ruamel.yaml")
    if spec is None or spec.loader is None:
        return  # the import below reports it
    package = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def run_init(name: str) -> Any:
        del package.__dict__["__getattr__"]
        loader.exec_module(package)
        return getattr(package, name)

    package.__dict__["__getattr__"] = run_init
    sys.modules["ruamel.yaml"] = package
    # `import ruamel.yaml` then `ruamel.yaml.X` reads the attribute of the parent package.
    setattr(sys.modules["ruamel"], "yaml", package)  # noqa: B010 - typed: it is no attribute


_register_package_lazily()

from ruamel.yaml.composer import Composer  # noqa: E402
from ruamel.yaml.docinfo import DocInfo  # noqa: E402
from ruamel.yaml.error import MarkedYAMLError, YAMLError  # noqa: E402
from ruamel.yaml.parser import RoundTripParser  # noqa: E402
from ruamel.yaml.reader import Reader  # noqa: E402
from ruamel.yaml.scanner import RoundTripScanner  # noqa: E402


class _Composing:
    """What the reader, scanner, parser and composer ask of the object they call their loader,
    with the values `YAML(typ="rt", pure=True)` gives them (the `typ` attribute tells them to
    reach each other through these properties)."""

    typ = ("rt",)
    comment_handling = None
    max_depth = 0

    def __init__(self, text: str, resolver: type[Any], scanner: type[Any],
                 composer: type[Any]) -> None:
        self.version: Any = None
        self.tags: dict[str, str] = {}
        self.doc_infos = [DocInfo(requested_version=None)]
        self._resolver_class = resolver
        self._resolver: Any = None
        self._reader = Reader(None, loader=self)
        self._reader.stream = text
        self._scanner = scanner(loader=self)
        self._parser = RoundTripParser(loader=self)
        self._composer = composer(loader=self)

    @property
    def reader(self) -> Any:
        return self._reader

    @property
    def scanner(self) -> Any:
        return self._scanner

    @property
    def parser(self) -> Any:
        return self._parser

    @property
    def composer(self) -> Any:
        return self._composer

    @property
    def resolver(self) -> Any:
        # A `%YAML` directive changes `version`; the resolver follows it, as YAML's does.
        if self._resolver is None or self._resolver._loader_version != self.version:
            self._resolver = self._resolver_class(version=self.version, loader=self)
        return self._resolver


def compose_all(text: str, resolver: type[Any], *, scanner: type[Any] = RoundTripScanner,
                composer: type[Any] = Composer) -> Iterator[Any]:
    """The node graph of each document of `text` (a `ruamel.yaml.nodes.Node`, or None for an
    empty document), scalars tagged by `resolver` (a `VersionedResolver` subclass); `scanner`
    and `composer` may be subclasses of ruamel's (that bound what they accept, say)."""
    composing = _Composing(text, resolver, scanner, composer)
    composer = composing.composer
    try:
        while composer.check_node():
            yield composer.get_node()
    finally:
        composing.parser.dispose()
        composing.reader.reset_reader()
        composing.scanner.reset_scanner()
