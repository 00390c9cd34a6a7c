"""Netra Apex core: wire protocol, storage schema, resource names and the cost engine.

Nothing in this package performs network I/O. The edge (``edge_ws``), the
functions (``functions``), the clients (``apex_cli``) and the infrastructure
stack (``infra_cdktf``) are thin adapters around it.
"""
