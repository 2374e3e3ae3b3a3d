"""The collector: MQTT to the time-series store, acknowledging only what is stored."""
