"""Modbus: the one package for the wire (PDU, MBAP, RTU), the codec, the planner and the buses.

Listed in :mod:`devices.protocols` by :data:`devices.modbus.protocol.MODBUS`.
"""
