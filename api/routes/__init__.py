"""API routes, one module per resource.

No route module imports another: what several share (schemas, paging, place filters, the
asset list's snapshot, :class:`api.services.Services`) lives in modules of :mod:`api`.
"""
