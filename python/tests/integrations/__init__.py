"""Integration suites: the real frameworks (LangChain/LangGraph, OpenAI Agents SDK, MCP,
OpenTelemetry), no network, no LLM. ``make test-integrations`` installs them."""
