"""The trust area's errors live in one module, shared by the pure verifiers and the shells."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil

import pytest

import lkpolicy.stages.trust
from lkpolicy.stages.trust import errors

# The stage's own VerificationFailed is the stage's answer to the gate, not an error of a verifier.
STAGE_MODULES = {"lkpolicy.stages.trust.verifiers"}


def _trust_modules() -> list[str]:
    package = lkpolicy.stages.trust
    return sorted(info.name for info in pkgutil.walk_packages(package.__path__,
                                                              package.__name__ + "."))


def test_every_trust_exception_is_defined_in_errors() -> None:
    defined_elsewhere = []
    for name in _trust_modules():
        if name in STAGE_MODULES or name == errors.__name__:
            continue
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, BaseException)
                    and value.__module__ == name):
                defined_elsewhere.append(f"{name}.{attribute}")
    assert defined_elsewhere == []


def test_cosign_and_keyless_families_are_in_errors() -> None:
    assert issubclass(errors.CosignError, errors.TrustError)
    assert issubclass(errors.SignatureFetchError, errors.CosignError)
    assert issubclass(errors.NetworkError, errors.TrustError)
    assert issubclass(errors.CacheError, errors.TrustError)
    assert issubclass(errors.BundleInvalid, errors.KeylessError)


@pytest.mark.parametrize(("keyless", "cosign"), [
    (errors.TrustedRootError, errors.TrustedRootUnavailable),
    (errors.IdentityMismatch, errors.WrongIdentity),
    (errors.DigestMismatch, errors.PayloadDigestMismatch),
    (errors.NotAnImageSignature, errors.UnsupportedSignature),
    (errors.BundleInvalid, errors.SignatureInvalid),
    (errors.KeylessError, errors.SignatureInvalid),
])
def test_keyless_failures_name_the_image(keyless: type[errors.KeylessError],
                                         cosign: type[errors.CosignError]) -> None:
    mapped = errors.cosign_error_for_keyless(keyless("the\nreason"), "docker.io/x/y:1")
    assert type(mapped) is cosign
    assert str(mapped) == "docker.io/x/y:1: the reason"
    assert mapped.image == "docker.io/x/y:1"


def test_errors_are_one_line_and_picklable() -> None:
    error = errors.ThresholdNotMet("targets/releases", "0 valid\nsignatures")
    assert str(error) == "targets/releases: 0 valid signatures"
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is errors.ThresholdNotMet and str(copy) == str(error)


def test_errors_carry_no_control_characters_or_credentials() -> None:
    error = errors.MalformedMetadata("targets/\x1b[2Jx", "role \x1b]0;title\x07 from "
                                     "https://user:hunter22@notary.example")
    assert str(error) == "targets/ [2Jx: role ]0;title from https://***@notary.example"
