"""``ingest_usage``: the usage upload endpoint (HTTP function).

Placeholder so the stack can start: it answers 501 until usage ingest is
implemented here (it is meant to store uploads with
``functions.usage_store.UsageStore.save_upload``).
"""

from __future__ import annotations

import flask
import functions_framework


@functions_framework.http
def ingest_usage(request: flask.Request) -> flask.Response:
    """Answer every request with 501 ``not_implemented``."""
    return flask.make_response(
        flask.jsonify(
            {
                "error": {
                    "code": "not_implemented",
                    "message": "usage upload is not available yet",
                }
            }
        ),
        501,
    )
