"""Custom rules: rules a policy file defines in `custom_rules:`, with a condition in CEL.

Modules, one job each:
    syntax     what lkpolicy reads from a condition's text (member chains, literals, macros)
    celenv     the CEL variables of each scope, compiling and evaluating within bounds
    model      `CustomRule`, the ID rules, LKP007, `explain` text
    parse      the `custom_rules:` section of a policy file (LKP007 errors with positions)
    variables  what a condition sees: each container's effective config, the whole config
    places     where a finding points (the field the condition names)
    checks     the rules as policy checks, run by the engine's `evaluate`
"""
