"""The rule kinds, one module each; importing this package registers them all.

To add a kind, copy the smallest module here (``door_forced``) and its test, and add the
module to the import below: the order is the order error messages list the kinds in.
"""

from api.alerts.kinds import (  # noqa: F401, I001
    threshold,
    fault,
    comm_loss,
    idle,
    speeding,
    geofence,
    movement,
    long_idling,
    door_held_open,
    door_forced,
    access_after_hours,
    denied_burst,
    tamper,
)
