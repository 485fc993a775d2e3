"""Shared by the serving and crash-safety tests: deliveries that change every mart."""

import json

MARTS = ("enriched_orders", "daily_revenue", "customer_lifetime_value", "customer_tier_history")


def known_customer_orders(batch: int, count: int) -> str:
    """``count`` orders of known sample customers on a new day (every mart changes)."""
    return "".join(json.dumps({
        "order_id": f"ORD-{batch}{i:06d}", "customer_id": 1 + i % 40, "sku": "ELE-3802", "qty": 1,
        "amount": f"{5 + i % 7}.50", "currency": "EUR", "ordered_at": f"2026-11-{10 + batch}T10:00:00",
        "status": "placed"}) + "\n" for i in range(count))
