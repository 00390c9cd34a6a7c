"""Answers: a typed question (:mod:`apex_core.query`) run over the user's roll-up by the cost engine.

Pure: no I/O. Every dollar figure is priced cell by cell with the engine's
:class:`~apex_core.cost.PriceBook`, exactly as ``apex analyze --json`` prices
the same usage restricted to the same filters and days.

| module | what it holds |
|---|---|
| ``scope`` | which cells a query keeps, and the group a cell falls in |
| ``tally`` | :class:`Tally`: priced usage and the measures computed from it |
| ``execute`` | ``execute(query, rollup)`` -> :class:`Result` (figures, rows, chart, assumptions) |
| ``why`` | a change between two periods, by model, feature and end user, price vs volume |
| ``what_if`` | the usage in scope repriced under the lever the user named |
| ``render`` | the answer in words: the figure first, the table, the assumptions |
| ``facts`` | the user's :class:`~apex_core.query.vocabulary.Vocabulary` and data facts |
"""
