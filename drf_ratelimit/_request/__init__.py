"""Which client a request counts against: the key grammar and the client address.

Reads the settings snapshot (masks, trusted proxies) but nothing of the
engine: a key function turns a request into a text value, and that is all.
"""
