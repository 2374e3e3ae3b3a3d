"""The API service: live state, the asset-status API, rules and alerts."""
