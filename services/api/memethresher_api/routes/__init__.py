"""HTTP routes, one module per page and its JSON endpoints."""
