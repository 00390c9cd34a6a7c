"""The optional LLM planner: an OpenAI-compatible chat-completions endpoint turns a message
into the same :class:`apex_core.query.model.Query` the deterministic parser makes.

Off unless configured (``settings.PlannerSettings.from_env``). The only network I/O
is :func:`client.plan`'s one HTTP request; everything it sends and accepts goes
through :mod:`apex_core.query.tool_schema`. Any failure is a
:class:`client.PlannerFailed`, on which the caller uses the parser instead.
"""
