"""`lkpolicy diff`: the security-relevant changes between two versions of a config.

`sources` reads the two versions (files or git revisions), `facts` reads what each
container's effective config grants, `compare` turns the two sets of facts into changes with
a risk (`model`), and `render` writes them as text, JSON or markdown.
"""
