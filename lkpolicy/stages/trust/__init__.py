"""Signature trust for image tags: Docker Content Trust (Notary v1) verification.

`notary` is pure verification (bytes in, verified objects or an exception out); `notary_client`
is the thin network/cache shell around it.
"""
