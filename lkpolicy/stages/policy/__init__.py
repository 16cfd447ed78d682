"""The policy stage: which of the powers a config grants its containers are acceptable.

`loader` reads a policy file (with `extends`, selectors and rule options) into the `model`;
`engine` judges a config and the effective configs of its containers with the checks of
`container_checks` and `config_checks`, each registered with the `rules` it emits;
`discovery` finds the policy that applies to a config.
"""
