"""`lkpolicy build`: the gate, then linuxkit's build of exactly what passed it.

There is no option to skip the gate, and the build decides nothing itself: it builds the
images and container configs that the gate resolved and judged, or nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import os
from typing import TYPE_CHECKING, Annotated

import typer

from lkpolicy.cli.common import (
    ArchOption,
    AtOption,
    BaselineOption,
    CacheOption,
    ColorChoice,
    ColorOption,
    FailOn,
    IgnoreOption,
    NoWaiversOption,
    OfflineOption,
    PolicyOption,
    SelectOption,
    gate_options,
    printer,
    report_to_stderr,
    require_extra,
    run_gate_or_exit,
    usage_error,
)
from lkpolicy.model.findings import ExitCode

if TYPE_CHECKING:
    from lkpolicy.assemble import Limits
    from lkpolicy.assemble.plan import BuildPlan
    from lkpolicy.assemble.provenance import ProvenanceWriter, Signer
    from lkpolicy.assemble.sbom import SbomOptions
    from lkpolicy.gate.gate import Gate
    from lkpolicy.gate.unit import GateUnit


class SbomFormat(enum.StrEnum):
    spdx = "spdx"
    cyclonedx = "cyclonedx"


class BuildFailOn(enum.StrEnum):
    error = "error"
    warning = "warning"
    info = "info"


def build(
    files: Annotated[list[str], typer.Argument(help="LinuxKit configs, merged in order.",
                                               show_default=False)],
    output_format: Annotated[list[str] | None, typer.Option(
        "--format", "-f", help="Output format (repeatable or comma-separated; default "
                               "kernel+initrd).", show_default=False)] = None,
    directory: Annotated[str, typer.Option("--dir", help="Output directory.")] = ".",
    name: Annotated[str | None, typer.Option(
        "--name", help="Output base name; default: the last config's file name without "
                       "extension.", show_default=False)] = None,
    arch: ArchOption = None,
    lock: Annotated[str | None, typer.Option(
        "--lock", help="Build only if the gate resolves every image to the digest of this "
                       "lock (from `lkpolicy check --lock`) and the configs are unchanged.",
        show_default=False)] = None,
    cache: CacheOption = None,
    policy: PolicyOption = None,
    offline: OfflineOption = False,
    fail_on: Annotated[BuildFailOn, typer.Option(
        help="Lowest severity that stops the build, as `check --fail-on`.")] = BuildFailOn.error,
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    baseline: BaselineOption = None,
    no_waivers: NoWaiversOption = False,
    at: AtOption = None,
    color: ColorOption = ColorChoice.auto,
    compression_level: Annotated[int, typer.Option(
        "--compression-level", min=1, max=9,
        help="gzip level of the initrd: 1 is fastest (multi-threaded), 9 the smallest.")] = 1,
    verify_reproducible: Annotated[bool, typer.Option(
        "--verify-reproducible", help="Build twice and compare every output byte for byte "
                                      "before writing them.")] = False,
    no_sbom: Annotated[bool, typer.Option(
        "--no-sbom", help="Do not write the merged SBOM into the image (as linuxkit's "
                          "--no-sbom).")] = False,
    sbom_format: Annotated[SbomFormat, typer.Option(
        "--sbom-format", help="The SBOM's format: SPDX 2.3 JSON (linuxkit's) or CycloneDX 1.6 "
                              "JSON.")] = SbomFormat.spdx,
    sbom_output: Annotated[str | None, typer.Option(
        "--sbom-output", help="Path of the SBOM inside the image [default: sbom.spdx.json, "
                              "sbom.cdx.json for CycloneDX].", show_default=False)] = None,
    sign_key: Annotated[str | None, typer.Option(
        "--sign-key", help="Sign the provenance with this key: a cosign key file (password "
                           "in COSIGN_PASSWORD) or a PEM private key.",
        show_default=False)] = None,
    keyless: Annotated[bool, typer.Option(
        "--keyless", help="Sign the provenance with Sigstore (Fulcio, Rekor) using the OIDC "
                          "token in SIGSTORE_IDENTITY_TOKEN or the CI's.")] = False,
    no_provenance: Annotated[bool, typer.Option(
        "--no-provenance", help="Do not write NAME.intoto.jsonl (SLSA provenance).")] = False,
    max_expanded_size: Annotated[str | None, typer.Option(
        "--max-expanded-size", help="Most bytes the layers of all images may decompress to "
                                    "(K, M, G, T suffixes; default 8G); more is refused as a "
                                    "decompression bomb.", show_default=False)] = None,
    max_entries: Annotated[int | None, typer.Option(
        "--max-entries", min=1, help="Most tar entries in the layers of all images (default "
                                     "1000000).", show_default=False)] = None,
    max_expansion_ratio: Annotated[int | None, typer.Option(
        "--max-expansion-ratio", min=1,
        help="Most decompressed bytes per compressed byte of a layer, past its first 64 MiB "
             "(default 100).", show_default=False)] = None,
) -> None:
    """Run the gate on the configs, then build exactly what passed it, from the image cache
    (never from the network)."""
    require_extra("build", "lkpolicy build")
    if sign_key is not None or keyless:
        require_extra("trust", "lkpolicy build --sign-key" if sign_key else
                      "lkpolicy build --keyless")
    from lkpolicy.assemble import FormatUnavailable, Limits, check_formats
    from lkpolicy.assemble.flatten import parse_size

    try:  # formats, --arch and tools first: a usage problem should not wait for the gate
        formats = check_formats(output_format or ["kernel+initrd"], arch)
        chosen = {"max_expanded_bytes": None if max_expanded_size is None
                  else parse_size(max_expanded_size),
                  "max_entries": max_entries, "max_ratio": max_expansion_ratio}
        limits = Limits(**{key: value for key, value in chosen.items() if value is not None})
    except FormatUnavailable as error:
        usage_error(str(error))
    except ValueError as error:
        usage_error(f"--max-expanded-size: {error}")
    sbom = None if no_sbom else _sbom_options(sbom_output, sbom_format.value)
    signer = _signer(sign_key, keyless, no_provenance)  # a password prompt before the gate
    options = gate_options(
        merge=True, cache=cache, arch=arch, policy=policy, offline=offline,
        no_waivers=no_waivers, select=select, ignore=ignore, baseline=baseline,
        fail_on=FailOn(fail_on.value), use_result_cache=False, at=at)
    gate = run_gate_or_exit(files, options)
    if not gate.passed:
        report_to_stderr(gate.findings, gate.documents, gate.files, color=color.value)
        errors = sum(1 for f in gate.findings if options.fail_on and f.severity >= options.fail_on)
        if gate.exit_code == ExitCode.FINDINGS:
            printer().err(f"lkpolicy build: the gate failed with {errors} finding(s) at or "
                          f"above {fail_on.value}; nothing was built")
        raise typer.Exit(gate.exit_code)
    unit = gate.single_unit()
    if lock is not None:
        _check_lock(unit, lock)
    assert unit.config is not None
    from lkpolicy.gate.plan import build_plan

    plan = build_plan(unit)
    name = name or unit.config.name
    if sbom is not None:
        sbom = dataclasses.replace(sbom, name=name)
    provenance = None if signer is None else _provenance(
        gate, unit, plan, formats, name, compression_level, sbom, signer)
    _build(unit, plan, formats, directory, name, verify_reproducible, compression_level, sbom,
           provenance, limits)


def _signer(sign_key: str | None, keyless: bool, no_provenance: bool) -> Signer | None:
    from lkpolicy.assemble import provenance
    from lkpolicy.stages.trust.dsse import SigningKeyError, ambient_token, load_signing_key

    if no_provenance and (sign_key is not None or keyless):
        usage_error("--no-provenance cannot be combined with --sign-key or --keyless")
    if sign_key is not None and keyless:
        usage_error("--sign-key and --keyless are alternatives")
    if no_provenance:
        return None
    try:
        if sign_key is not None:
            return provenance.key_signer(load_signing_key(sign_key))
        if keyless:
            token = ambient_token()
            if token is None:
                usage_error("--keyless needs an OIDC identity token: set "
                            "SIGSTORE_IDENTITY_TOKEN, or run in a CI that provides one")
            return provenance.keyless_signer(token)
    except SigningKeyError as error:
        usage_error(str(error))
    return provenance.unsigned()


def _provenance(gate: Gate, unit: GateUnit, plan: BuildPlan, formats: list[str], name: str,
                level: int, sbom: SbomOptions | None, signer: Signer) -> ProvenanceWriter:
    import hashlib

    from lkpolicy import __version__
    from lkpolicy.assemble import BuildError, source_date_epoch
    from lkpolicy.assemble.provenance import ProvenanceRequest, ProvenanceWriter, policy_digests
    from lkpolicy.model.gomodel import go_model

    assert unit.config is not None
    configs = tuple(
        (path, "sha256:" + hashlib.sha256(gate.documents[path].text.encode(
            "utf-8", "surrogateescape")).hexdigest())
        for path in unit.paths if path in gate.documents)
    try:
        request = ProvenanceRequest(
            configs=configs,
            policies=policy_digests(unit.policy.sources if unit.policy is not None else []),
            formats=tuple(formats), name=name, compression_level=level,
            epoch=source_date_epoch(), sbom_path=sbom.path if sbom is not None else None,
            version=__version__)
    except BuildError as error:
        usage_error(str(error))
    return ProvenanceWriter(request, plan, go_model(unit.config)["files"], signer)


def _sbom_options(path: str | None, sbom_format: str) -> SbomOptions:
    from lkpolicy import __version__
    from lkpolicy.assemble import BuildError, source_date_epoch
    from lkpolicy.assemble.cyclonedx import DEFAULT_CYCLONEDX_PATH
    from lkpolicy.assemble.sbom import DEFAULT_SBOM_PATH, SbomOptions, check_sbom_path

    if path is None:
        path = DEFAULT_CYCLONEDX_PATH if sbom_format == "cyclonedx" else DEFAULT_SBOM_PATH
    try:
        return SbomOptions(check_sbom_path(path), source_date_epoch(), f"lkpolicy-{__version__}",
                           sbom_format)
    except (ValueError, BuildError) as error:
        usage_error(f"--sbom-output: {error}" if isinstance(error, ValueError) else str(error))


def _check_lock(unit: GateUnit, path: str) -> None:
    from lkpolicy.gate.lock import check_matches, load_lock
    from lkpolicy.model.findings import InputError

    try:
        stale = check_matches(load_lock(path), unit, path)
    except InputError as error:
        printer().findings(error.findings)
        raise typer.Exit(ExitCode.USAGE) from None
    except OSError as error:
        usage_error(f"cannot read a config to compare with the lock: {error.strerror or error}")
    if stale:
        printer().findings(stale)
        printer().err("lkpolicy build: the gate's images are not the ones that passed it when "
                      "the lock was written; nothing was built")
        raise typer.Exit(ExitCode.FINDINGS)


def _build(unit: GateUnit, plan: BuildPlan, formats: list[str], directory: str, name: str,
           verify: bool, level: int, sbom: SbomOptions | None,
           provenance: ProvenanceWriter | None, limits: Limits) -> None:
    from lkpolicy.assemble import (
        BuildError,
        BuildOptions,
        FormatUnavailable,
        build_outputs,
        verify_reproducible,
    )

    assert unit.config is not None
    say = printer().err
    options = BuildOptions(progress=say, compression_level=level, sbom=sbom, limits=limits)
    created = not os.path.isdir(directory)
    try:
        os.makedirs(directory, exist_ok=True)
        if verify:
            report = verify_reproducible(unit.config, plan, formats, name, work_dir=directory,
                                         options=options)
            if not report.identical:
                for line in report.differences:
                    say(f"lkpolicy build: not reproducible: {line}")
                raise typer.Exit(ExitCode.FINDINGS)
            say(f"lkpolicy build: two builds are byte-identical ({len(report.files)} files)")
        written = build_outputs(unit.config, plan, formats, directory, name,
                                options=options, provenance=provenance).files
    except FormatUnavailable as error:
        _remove_if_empty(directory, created)
        say(f"lkpolicy build: {error}")
        raise typer.Exit(ExitCode.USAGE) from None
    except BuildError as error:
        _remove_if_empty(directory, created)
        say(f"lkpolicy build: {error}")
        raise typer.Exit(ExitCode.FINDINGS) from None
    except OSError as error:
        _remove_if_empty(directory, created)
        say(f"lkpolicy build: {error.filename or directory}: {error.strerror or error}")
        raise typer.Exit(ExitCode.USAGE) from None
    except typer.Exit:
        _remove_if_empty(directory, created)
        raise
    for path in written:
        printer().out(str(path))


def _remove_if_empty(directory: str, created: bool) -> None:
    """A failed build leaves no directory it created; a non-empty one is not ours to remove."""
    if created:
        with contextlib.suppress(OSError):
            os.rmdir(directory)


