"""Start, wait for, provision and stop the local platform: the official Pub/Sub and
Firestore emulators, and the product's own processes (functions and edge) against them.

``python -m emulators --help`` lists the commands ``scripts/dev`` and ``scripts/test`` use.
"""
