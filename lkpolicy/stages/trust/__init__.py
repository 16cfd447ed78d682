"""Signature trust for image digests and tags: Notary v1 (Docker Content Trust), TUF, cosign.

Each scheme is a pure verifier (bytes in, verified objects or an exception out) and a thin shell
that moves the bytes (network, caches): `notary/` (both, by module), `tuf_verifier` over python-tuf
with its metadata transport in `tuf_fetcher`, `cosign/` and `sigstore_keyless`. Every error is in
`errors`; `stage` is the pipeline stage that asks the authorities a policy names.
"""
