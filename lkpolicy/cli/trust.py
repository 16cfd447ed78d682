"""`lkpolicy trust ...`: ask the policy's trust authorities about an image.

`trust inspect` shows every configured authority's answer, not only the required ones, so that
a policy author can see what a new rule would demand before writing it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from lkpolicy.cli.common import AtOption, emit, parse_at, printer, require_extra, usage_error
from lkpolicy.model.findings import ExitCode

if TYPE_CHECKING:
    from lkpolicy.stages.trust.inspection import Inspection

trust_app = typer.Typer(
    name="trust",
    help="Signature trust: what the policy's authorities say about images.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@trust_app.callback()
def _group() -> None:
    """Signature trust: what the policy's authorities say about images."""


@trust_app.command("inspect")
def inspect(
    image: Annotated[str, typer.Argument(help="Image reference, e.g. linuxkit/init:v1.0.",
                                         show_default=False)],
    policy: Annotated[str | None, typer.Option(
        "--policy", "-p", help="Policy file (default: discovered from the current directory, "
                               "as `check` does).", show_default=False)] = None,
    cache: Annotated[str | None, typer.Option(
        "--cache", metavar="DIR", help="Image cache holding the manifest to compare (default: "
                                       "$LINUXKIT_CACHE, else ~/.linuxkit/cache).",
        show_default=False)] = None,
    trust_cache: Annotated[str | None, typer.Option(
        "--trust-cache", metavar="DIR", help="Trust metadata cache (default: "
                                             "$LKPOLICY_TRUST_CACHE, else "
                                             "~/.cache/lkpolicy/trust).",
        show_default=False)] = None,
    offline: Annotated[bool, typer.Option(
        "--offline", help="Use only cached trust metadata (expiry is still checked).")] = False,
    output_format: Annotated[str, typer.Option(
        "--format", "-f", help="text or json.")] = "text",
    at: AtOption = None,
) -> None:
    """Print what each authority of the policy says about IMAGE; exit 1 when an authority that
    the policy requires for it does not vouch for it."""
    require_extra("trust", "lkpolicy trust inspect")
    from lkpolicy.model.findings import InputError
    from lkpolicy.stages.policy.loader import load_policy
    from lkpolicy.stages.trust.inspection import inspect_image

    if output_format not in ("text", "json"):
        usage_error(f"unknown format {output_format!r} (use text or json)")
    moment = parse_at(at)
    try:
        loaded = load_policy(policy)
    except InputError as error:
        printer().findings(error.findings)
        raise typer.Exit(ExitCode.USAGE) from None
    if not loaded.trust.authorities:
        usage_error("the policy defines no trust authorities (`trust.authorities`)")
    try:
        result = inspect_image(image, loaded, cache_dir=trust_cache, offline=offline,
                               image_cache=cache, now=moment)
    except ValueError as error:
        usage_error(str(error))
    if output_format == "json":
        emit(json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n", None)
    else:
        printer().block(render_text(result))
    if any(answer.required and not answer.ok for answer in result.answers):
        raise typer.Exit(ExitCode.FINDINGS)


def render_text(result: Inspection) -> str:
    lines = [result.reference]
    if result.manifest:
        lines.append(f"  cached: {result.manifest['digest']} ({result.manifest['size']} bytes)")
    else:
        lines.append("  cached: no (signed digests are shown, not compared)")
    for answer in result.answers:
        tag = "required" if answer.required else "not required"
        signers = f", signers {', '.join(answer.signers)}" if answer.signers else ""
        signers += f", {answer.attestation}" if answer.attestation else ""
        head = f"  {answer.authority} ({answer.type}{signers}, {tag}): "
        if answer.error is not None:
            lines.append(head + ("MISMATCH " if answer.mismatch else "FAILED ") + answer.error)
            continue
        lines.append(head + "ok")
        for item in answer.evidence:
            who = item.get("role") or item.get("signer") or "?"
            expires = f", expires {item['expires']}" if item.get("expires") else ""
            size = f" ({item['size']} bytes)" if item.get("size") is not None else ""
            lines.append(f"    {item.get('digest')}{size} by {who}{expires}")
    return "\n".join(lines) + "\n"
