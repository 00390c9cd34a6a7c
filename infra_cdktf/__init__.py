"""The CDKTF stack that runs Netra Apex in a Google Cloud project.

Two stacks (see ``main.py`` and docs/DEPLOY.md): ``apex-foundation`` (APIs,
Artifact Registry, the JWT secret) and ``apex-app`` (everything that needs the
images and the secret's value to exist first).
"""
