// A second verifier for Sigstore bundles: the sigstore npm project's @sigstore/verify.
// Reads one JSON request on stdin: {trustedRoot, cases: [{name, bundle, identity?, issuer?,
// publicKey?}]} and prints one JSON line per case: {name, ok, error}. `identity` is matched
// exactly (anchored, escaped), `issuer` exactly; `publicKey` (PEM) makes a managed-key case.
'use strict';
const crypto = require('crypto');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\\/]/g, '\\$&');
}

function verifyOne(root, item) {
  const bundle = bundleFromJSON(item.bundle);
  let material;
  let options = {};
  let policy;
  if (item.publicKey) {
    const key = crypto.createPublicKey(item.publicKey);
    material = toTrustMaterial(root, () => ({ publicKey: key, validFor: () => true }));
    options = { ctlogThreshold: 0 };
  } else {
    material = toTrustMaterial(root);
    policy = { subjectAlternativeName: `^${escape(item.identity)}$`,
               extensions: { issuer: item.issuer } };
  }
  new Verifier(material, options).verify(toSignedEntity(bundle), policy);
}

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const request = JSON.parse(input);
  const root = TrustedRoot.fromJSON(request.trustedRoot);
  for (const item of request.cases) {
    let result;
    try {
      verifyOne(root, item);
      result = { name: item.name, ok: true, error: null };
    } catch (error) {
      result = { name: item.name, ok: false, error: `${error.code || error.name}: ${error.message}` };
    }
    process.stdout.write(JSON.stringify(result) + '\n');
  }
});
