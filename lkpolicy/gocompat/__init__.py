"""Go's behaviour where linuxkit's output or messages depend on it, one helper per job.

lkpolicy reproduces linuxkit byte for byte, and Python's nearest functions differ from Go's in
the details that show: quoting, path cleaning, number parsing and formatting, JSON and YAML
text. Everything of that kind lives here, under public names:

    quoting      quote                                  strconv.Quote (%q)
    numbers      parse_int, parse_uint, NumError,       strconv.ParseInt/ParseUint/FormatFloat
                 format_float
    paths        clean, join, split, dir_name,          path.Clean/Join/Split/Dir/Base,
                 base_name, rel                         filepath.Rel
    gojson       marshal, marshal_indent, quote,        encoding/json
                 GoJSONError
    yamlscalars  resolve_plain_scalar, can_use_plain    yaml.v3's typing of plain scalars
    goyaml       marshal_v3, marshal_v2, sort_map_keys  yaml.v3 / yaml.v2 Marshal

The modules import nothing outside this package, so any stage can use them cheaply.
"""
