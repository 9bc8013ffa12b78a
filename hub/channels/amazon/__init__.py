"""Amazon Selling Partner API channel: connector, order import, quantity push, shipments, sandbox.

Pure modules (no I/O): ``marketplaces``, ``usage_plans``, ``ratelimit``, ``model``,
``mapping``, ``states``, ``push`` (planner part), ``importer`` (window part), ``shipments``
(request building), ``health``. The imperative shell: ``client`` (the one module
that talks to python-amazon-sp-api), ``orders`` (order sources), the executors in
``push``/``importer``/``shipments``, ``state`` (the persistence protocols, implemented
on the hub database by ``hub.db.channels``), ``runner`` (one account's jobs on the hub
database) and ``sandbox`` (the local SP-API emulator).
"""
