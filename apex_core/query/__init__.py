"""Questions about the user's usage: a typed query, and turning a message into one.

Pure: no network I/O, no clock, and no import of the cost engine (the
executor over the roll-up lives with the engine). Import from the modules:

| module | what it holds |
|---|---|
| ``model`` | :class:`Query` and its parts (``Filter``, ``Ranking``, ``WhatIf``, the literals) |
| ``periods`` | :class:`Period`, relative periods counted back from the data's last day |
| ``codec`` | ``query_to_json`` / ``query_from_json`` (``apex.query.v1``, stored with the thread) |
| ``vocabulary`` | :class:`Vocabulary` (the user's names), matching names in a message |
| ``parser`` | ``parse(text, vocabulary, previous=, facts=)`` -> ``Parsed`` or ``NotUnderstood`` |
| ``followups`` | ``refine(previous, Refinement)``: how a follow-up changes a query |
| ``suggestions`` | :class:`DataFacts`, suggested and closest questions with the user's names |
| ``describe`` | a query said in words (replies, ``agent_thinking``) |
| ``tool_schema`` | the LLM planner's function-calling tool and its argument validator |
| ``reading``, ``dates``, ``words``, ``text``, ``json_fields`` | the parser's internals |
"""
