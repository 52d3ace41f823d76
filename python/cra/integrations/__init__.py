"""Framework integrations, each an optional extra that imports its framework only when used:

- :mod:`cra.integrations.langchain` (``pip install "cra-governance[langchain]"``): LangChain tools and
  LangGraph agents; refusals become tool messages, approvals LangGraph interrupts.
- :mod:`cra.integrations.openai_agents` (``cra-governance[openai-agents]``): OpenAI Agents SDK function
  tools; refusals are tool output, approvals the SDK's human-in-the-loop.
- :mod:`cra.integrations.mcp` (``cra-governance[mcp]``): a governing MCP proxy (``cra mcp-proxy``).
- :mod:`cra.integrations.otel` (``cra-governance[otel]``): an OpenTelemetry span per governed call.

Importing this package imports none of them. See ``docs/integrations.md``.
"""
