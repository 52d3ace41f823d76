"""A small real MCP server for the proxy tests: a shop with orders, refunds and accounts.

Every call it receives is appended to the file named by ``SHOP_CALLS`` (one JSON line), so a
test sees exactly which calls got through the proxy. Run: ``python mcp_shop_server.py`` (stdio)
or ``python mcp_shop_server.py --http PORT`` (streamable HTTP).
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict

from mcp.server import MCPServer

shop = MCPServer("shop")


def _record(tool: str, arguments: Dict[str, Any]) -> None:
    path = os.environ.get("SHOP_CALLS")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"tool": tool, "arguments": arguments}) + "\n")


@shop.tool(name="orders.lookup")
def lookup(order_id: str) -> Dict[str, str]:
    """Look up an order."""
    _record("orders.lookup", {"order_id": order_id})
    return {"order_id": order_id, "status": "shipped"}


@shop.tool()
def orders_refund(order_id: str, amount: float, reason: str) -> str:
    """Refund up to 100 (its name maps to orders.refund)."""
    _record("orders_refund", {"order_id": order_id, "amount": amount})
    return f"refunded {amount}"


@shop.tool()
def refund_big(order_id: str, amount: float, reason: str) -> str:
    """Refund over 100 (mapped to orders.refund_large by --map)."""
    _record("refund_big", {"order_id": order_id, "amount": amount})
    return f"refunded {amount}"


@shop.tool()
def customers_delete_account(customer_id: str) -> str:
    """Delete an account (denied by policy: hidden and refused)."""
    _record("customers_delete_account", {"customer_id": customer_id})
    return "deleted"


@shop.tool()
def tickets_reply(ticket_id: str, body: str) -> str:
    """Reply to a ticket (the backend is down: an error result)."""
    _record("tickets_reply", {"ticket_id": ticket_id})
    raise RuntimeError("ticket backend down")


@shop.tool()
def shell(command: str) -> str:
    """A tool no atlas action stands for: hidden and refused."""
    _record("shell", {"command": command})
    return "ran"


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--http":  # streamable HTTP on 127.0.0.1:PORT/mcp
        shop.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        shop.run()
