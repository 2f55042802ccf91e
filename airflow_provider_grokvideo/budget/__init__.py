"""A spend budget per connection and period: money is reserved before it is spent.

- :mod:`.periods`: the connection's budget (extras ``budget_usd_per_day``,
  ``budget_usd_per_month``, ``budget_timezone``) and the periods a moment falls in;
- :mod:`.ledger`: the arithmetic (reserve, settle, release, expire), pure, on one hash of text
  fields, with its Lua twin for Redis (tested to agree);
- :mod:`.stores`: where the hash lives: the deployment's Redis (the shared request budget's
  connection) or, without one, this process;
- :mod:`.spend`: what a task calls before and after a paid request.

Nothing here is imported when a DAG file is parsed.
"""
