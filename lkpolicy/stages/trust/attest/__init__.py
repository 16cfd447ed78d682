"""In-toto attestations attached to images: what the policy asks of them (`conditions`), the
signed statement and its predicate (`statement`), and finding and verifying them in a registry
or the image cache (`verifier`).

An attestation vouches for an image only when its signature verifies (a cosign key, a managed
key with its transparency-log entry, or a keyless certificate), its in-toto statement names the
image's manifest digest as a subject, and its predicate meets the policy's conditions.
"""
