"""Names `vulture` reports as unused although something outside our calls uses them; read by
`vulture` (configured in pyproject.toml), never imported. Only true false positives belong
here: dead code is deleted instead.

Decorated lint and policy checks and typer commands are registered by their decorators and are
left out by `ignore_decorators` in the configuration instead.
"""

# ruff: noqa: B018, F821 - bare names and attributes are how vulture whitelists are written

_.readinto  # assemble/flatten.py: ISA-L's gzip reader reads its source with `readinto`
exc_info  # assemble/initrd.py: the context manager protocol's `__exit__` arguments
sarif  # cli/check.py: members of the `--format` enum, chosen by typer
github  # cli/check.py: likewise
ConnectionCls  # registry/transport.py: urllib3's pools build connections from this attribute
_.pool_classes_by_scheme  # registry/transport.py: urllib3's PoolManager reads it
__getattr__  # store/__init__.py, stages/effective/__init__.py: lazy module attributes (PEP 562)
_._ref  # stages/schemacheck/generate.py: one emitter per schema keyword, found by getattr
_._type
_._enum
_._required
_._properties
_._additionalProperties
_._items
_._anyOf
_._const  # stages/schemacheck/predicate.py: likewise, one test per schema keyword
_._propertyNames
_._patternProperties
_._maxLength
_._minLength
_._minItems
_._minProperties
_._uniqueItems
_._pattern
_._oneOf
_._allOf
_._not
_._if
_.list_commands  # cli/__init__.py: click's Group protocol (the lazy command group)
_.help  # cli/__init__.py: a command group's help, read by click
diff  # cli/diff.py, pin.py, show.py, verify.py: commands loaded by name (cli/__init__.py)
pin
show
verify_build
completion  # cli/completion.py: likewise
bash  # cli/completion.py: members of the shell enum, chosen by typer
zsh
fish
always  # cli/common.py: a member of the `--color` enum, chosen by typer
formatter_class  # cli/helptext.py: click's Context builds help formatters from this attribute
_.context_class  # cli/helptext.py: click's Command builds contexts from this attribute
_.typ  # stages/yamlcompose.py: what ruamel's reader, scanner, parser and composer read
_.comment_handling
_.doc_infos
_._fetch  # stages/trust/tuf_fetcher.py: python-tuf's FetcherInterface calls these
_.download_bytes
_.log_errors  # linearregex.py: an option of re2.Options, read by the library
_.next_in  # assemble/blockgzip.py: fields of zlib's z_stream, read by zlib's inflate
_.next_out
_.avail_out
_.scan_to_next_token  # stages/yamlreader.py: ruamel's scanner calls these on the reader's subclass
_.scan_block_scalar_indicators
_.scan_anchor
rt  # stages/yamlreader.py: ruamel's signature of scan_block_scalar, ignored on purpose
