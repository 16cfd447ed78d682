"""Schema checking of LinuxKit configs without jsonschema on the check path.

`generated` is plain Python written ahead of time from `schemas/linuxkit.schema.json` by
`generate` (`python -m lkpolicy.stages.schemacheck.generate`); `reference` runs jsonschema on the
same schema and is what the generated code is tested against. Both report `Violation`s, the
schema errors in jsonschema's own order, which `stages.validate` turns into findings.
"""
