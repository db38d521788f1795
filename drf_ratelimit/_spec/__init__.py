"""The grammar layer: what a declaration says, parsed. Pure, no settings, no I/O.

Rates (``'100/15m'``), HTTP method selectors, group names, dotted paths, and
the literal options (``cost``, ``burst``, ``count_denied``) with the rules for
resolving a callable or dotted path of them per request. Everything above
(the request keys, the engine, the adapters) speaks in these terms.
"""
