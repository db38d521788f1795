"""Operations tools above the adapters: system checks, and finding one client's
counters of a view (for the ``ratelimit`` command and the test helpers)."""
