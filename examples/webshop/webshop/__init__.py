"""The web-shop example project: orders, customers, products and web-shop accounts."""
