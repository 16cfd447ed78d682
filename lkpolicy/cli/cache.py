"""`lkpolicy cache ...`: the local image cache, which is linuxkit's cache (an OCI image layout).

Unlike `linuxkit cache` (which ignores it), these commands honour `$LINUXKIT_CACHE` as
`linuxkit build` does, so the cache they fill is the one a build reads.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lkpolicy.cli.common import emit, printer
from lkpolicy.model.findings import ExitCode

if TYPE_CHECKING:
    # Imported when a cache command runs, not when the CLI starts (`check` pays for imports).
    from lkpolicy.model.oci import ImageSource, Platform
    from lkpolicy.store.lookup import Store

cache_app = typer.Typer(
    name="cache",
    help="The local image cache: linuxkit's cache format, shared with `linuxkit build`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

FAILURE = 1
"""An operation that failed (network, a corrupt cache); usage and input errors are ExitCode.USAGE."""

CacheOption = Annotated[str | None, typer.Option(
    "--cache", metavar="DIR", show_default=False,
    help="Cache directory (default: $LINUXKIT_CACHE, else ~/.linuxkit/cache).")]
PlatformOption = Annotated[str | None, typer.Option(
    "--platform", metavar="OS/ARCH[/VARIANT]", show_default=False,
    help="Platform to select from a multi-platform image (default: linux/<host architecture>).")]


class _Abort(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _fail(message: str, code: int = ExitCode.USAGE) -> _Abort:
    return _Abort(message, code)


@contextlib.contextmanager
def _reported() -> Iterator[None]:
    """Every expected failure becomes one line on stderr and an exit code, never a traceback."""
    try:
        yield
    except _Abort as abort:
        _error(str(abort))
        raise typer.Exit(abort.code) from None
    except _store_error() as error:
        _error(str(error))
        raise typer.Exit(ExitCode.USAGE if getattr(error, "input_error", False) else FAILURE) from None
    except ValueError as error:  # includes reference.ReferenceError
        _error(str(error))
        raise typer.Exit(ExitCode.USAGE) from None
    except OSError as error:
        where = f" {error.filename}" if error.filename else ""
        _error(f"{error.strerror or error}{where and ':' + where}")
        raise typer.Exit(FAILURE) from None


def _error(message: str) -> None:
    printer().err(f"lkpolicy: {' '.join(message.split())}")


def _store_error() -> type[Exception]:
    from lkpolicy.store.errors import StoreError

    return StoreError


def _store(cache: str | None) -> Store:
    from lkpolicy.store.location import default_cache_dir
    from lkpolicy.store.lookup import Store

    return Store(default_cache_dir(cache))


def _platform(text: str | None) -> Platform | None:
    if text is None:
        return None
    try:
        from lkpolicy.model.oci import Platform

        return Platform.parse(text)
    except ValueError as error:
        raise _fail(str(error)) from None


@cache_app.command("ls")
def ls_command(
    cache: CacheOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the cached images: name, digest, size and the platforms that are complete."""

    with _reported():
        images = _store(cache).ls()
    if json_output:
        data = [{"name": i.name, "digest": i.digest, "mediaType": i.media_type, "size": i.size,
                 "platforms": list(i.platforms), **({"problem": i.problem} if i.problem else {})}
                for i in images]
        emit(json.dumps(data, indent=2) + "\n", None)
    else:
        rows = [("NAME", "DIGEST", "TYPE", "SIZE", "PLATFORMS")]
        for i in images:
            kind = "index" if "index" in i.media_type or "list" in i.media_type else "manifest"
            # Names come from index.json, which anyone who can write the cache controls.
            rows.append((i.name, i.digest, kind, str(i.size),
                         ",".join(i.platforms) or "-"))
        widths = [max(len(row[c]) for row in rows) for c in range(4)]
        for row in rows:
            cells = [cell.ljust(widths[c]) for c, cell in enumerate(row[:4])]
            printer().out("  ".join([*cells, row[4]]))
    problems = [i.problem for i in images if i.problem]
    for problem in problems:
        _error(problem)
    if problems:
        raise typer.Exit(FAILURE)


@cache_app.command("pull")
def pull_command(
    images: Annotated[list[str], typer.Argument(help="Image references.", show_default=False)],
    cache: CacheOption = None,
    platform: PlatformOption = None,
    all_platforms: Annotated[bool, typer.Option(
        "--all-platforms", help="Pull every platform of a multi-platform image.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Contact the registry even if the cached image is complete.")] = False,
    mirror: Annotated[list[str] | None, typer.Option(
        "--mirror", metavar="REGISTRY=URL", show_default=False,
        help="Registry mirror (repeatable; a bare URL mirrors docker.io; default: "
             "$LINUXKIT_MIRROR).")] = None,
    cert_file: Annotated[str | None, typer.Option(
        "--cert-file", metavar="FILE", show_default=False,
        help="CA certificate(s) to trust for the registry, in PEM.")] = None,
) -> None:
    """Pull images into the cache, as `linuxkit build` would (only missing blobs)."""
    from lkpolicy.model.reference import parse as parse_reference

    with _reported():
        for image in images:
            parse_reference(image)  # a bad reference is a usage error before anything else happens
        from lkpolicy.store.location import host_platform

        chosen = _platform(platform) or host_platform()
        mirrors = _mirrors(mirror if mirror else _env_mirrors())
        if cert_file is not None and not os.path.isfile(cert_file):
            raise _fail(f"--cert-file {cert_file}: no such file")
        store = _store(cache)
        stale = [image for image in images
                 if force or not _fresh(store, image, chosen, all_platforms)]
        for image in images:
            if image not in stale:
                # Offline when the image is cached: no client, no network.
                result = store.pull(image, _NoSource(), chosen, all_platforms=all_platforms)
                printer().out(f"{result.name} {result.descriptor.digest} (already in the cache)")
        if not stale:
            return
        from concurrent.futures import ThreadPoolExecutor

        # The client first: without the registry package, its error is the one to report.
        client = _registry_client(mirrors, cert_file)
        from lkpolicy.registry.progress import pull_progress

        try:
            with pull_progress() as progress, ThreadPoolExecutor(max_workers=4) as pool:
                source = _ProgressSource(client, progress)
                futures = [pool.submit(store.pull, image, source, chosen,
                                       all_platforms=all_platforms, force=force)
                           for image in stale]
                # Results in argument order; the first failure is reported after the others ran.
                results = [future.result() for future in futures]
        finally:
            close = getattr(client, "close", None)
            if callable(close):
                close()
        for result in results:
            state = f"pulled, {result.blobs_written} blobs written" if result.fetched \
                else "already in the cache"
            printer().out(f"{result.name} {result.descriptor.digest} ({state})")


class _ProgressSource:
    """Passes each blob download's byte counts to the progress display (a no-op off a terminal)."""

    def __init__(self, inner: Any, progress: Any) -> None:
        self._inner = inner
        self._progress = progress

    def get_manifest(self, ref: Any, reference: str | None = None) -> Any:
        return self._inner.get_manifest(ref, reference)

    def get_blob(self, ref: Any, descriptor: Any) -> bytes:
        blob: bytes = self._inner.get_blob(ref, descriptor)
        return blob

    def copy_blob(self, ref: Any, descriptor: Any, sink: Any) -> None:
        if not self._progress.enabled:
            self._inner.copy_blob(ref, descriptor, sink)
            return
        label = f"{ref.expanded.rsplit('/', 1)[-1]} {descriptor.digest[7:19]}"
        self._inner.copy_blob(ref, descriptor, sink,
                              progress=self._progress.blob(label, descriptor.size))


def _fresh(store: Store, image: str, platform: Platform, all_platforms: bool) -> bool:
    if all_platforms:
        return False
    try:
        return store.lookup(image, platform) is not None
    except _store_error():
        return False


class _NoSource:
    """The source used when the image is known to be fresh: any call is a bug."""

    def get_manifest(self, ref: Any, reference: str | None = None) -> Any:
        raise _store_error()(f"image {ref.expanded}: unexpected network access")

    def get_blob(self, ref: Any, descriptor: Any) -> bytes:
        raise _store_error()(f"image {ref.expanded}: unexpected network access")

    def copy_blob(self, ref: Any, descriptor: Any, sink: Any) -> None:
        raise _store_error()(f"image {ref.expanded}: unexpected network access")


def _env_mirrors() -> list[str]:
    return [item for item in re.split(r"[\s,]+", os.environ.get("LINUXKIT_MIRROR", "")) if item]


def _mirrors(values: list[str]) -> dict[str, str]:
    """`REGISTRY=URL` or a bare URL for docker.io, as linuxkit's `--mirror`."""
    mirrors: dict[str, str] = {}
    for value in values:
        registry, separator, url = value.partition("=")
        if not separator:
            registry, url = "docker.io", value
        if not registry or not re.match(r"^https?://[^\s/]+", url):
            from lkpolicy.redaction import redact_url

            raise _fail(f"invalid --mirror {redact_url(value)!r} "
                        "(expected REGISTRY=http(s)://HOST[:PORT])")
        if registry in mirrors and mirrors[registry] != url:
            raise _fail(f"--mirror: two mirrors for {registry}")
        mirrors[registry] = url
    return mirrors


def _registry_client(mirrors: dict[str, str], cert_file: str | None) -> ImageSource:
    """Imported here, not at module load: `lkpolicy cache ls` must work without it."""
    try:
        module = importlib.import_module("lkpolicy.registry")
    except ModuleNotFoundError as error:
        if error.name not in ("lkpolicy.registry", "lkpolicy"):
            raise _fail(f"the registry client cannot be loaded: {error}", FAILURE) from None
        raise _fail("pulling needs the registry client (lkpolicy.registry), which is not "
                    "installed", FAILURE) from None
    client_class = getattr(module, "RegistryClient", None)
    options_class = getattr(module, "RegistryOptions", None)
    if client_class is None or options_class is None:
        raise _fail("lkpolicy.registry has no RegistryClient/RegistryOptions", FAILURE)
    # RegistryOptions checks the mirror URLs itself; its ValueError is a usage error.
    client: ImageSource = client_class(options_class(mirrors=mirrors, ca_file=cert_file))
    return client


@cache_app.command("import")
def import_command(
    files: Annotated[list[str], typer.Argument(
        help="OCI image layout tar files (docker buildx --output type=oci, skopeo oci-archive, "
             "lkpolicy/linuxkit cache export).", show_default=False)],
    cache: CacheOption = None,
) -> None:
    """Import OCI archives, registering each image under its io.containerd.image.name."""
    with _reported():
        store = _store(cache)
        for path in files:
            if not os.path.isfile(path):
                raise _fail(f"archive {path}: no such file")
            for name, descriptor in store.import_archive(path):
                printer().out(f"{name} {descriptor.digest}")


@cache_app.command("export")
def export_command(
    image: Annotated[str, typer.Argument(help="Image reference.", show_default=False)],
    output: Annotated[str, typer.Option(
        "--output", "-o", metavar="FILE", help="The tar file to write.", show_default=False)],
    cache: CacheOption = None,
    platform: Annotated[str | None, typer.Option(
        "--platform", metavar="OS/ARCH[/VARIANT]", show_default=False,
        help="Of a multi-platform image, export only this platform's blobs.")] = None,
) -> None:
    """Export an image as an OCI layout tar (loadable by `linuxkit cache import`)."""
    with _reported():
        descriptor = _store(cache).export_archive(image, output, platform=_platform(platform))
        printer().out(f"{descriptor.digest} -> {output}")


@cache_app.command("rm")
def rm_command(
    images: Annotated[list[str], typer.Argument(help="Image references.", show_default=False)],
    cache: CacheOption = None,
    gc: Annotated[bool, typer.Option(
        "--gc", help="Then delete the blobs that no cached image uses any more.")] = False,
) -> None:
    """Remove images from the cache index (their blobs stay until --gc)."""
    missing: list[str] = []
    with _reported():
        store = _store(cache)
        for image in images:
            if store.rm(image):
                printer().out(f"removed {image}")
            else:
                missing.append(image)
        if gc:
            result = store.gc()
            printer().out(f"deleted {len(result.removed)} blobs, {result.freed_bytes} bytes")
        if missing:
            raise _fail(f"not in the cache {store.root}: {', '.join(missing)}")
