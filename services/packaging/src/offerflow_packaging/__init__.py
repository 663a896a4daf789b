"""Packaging: product page, preview slot, go-live promotion and the storefront that serves them."""
