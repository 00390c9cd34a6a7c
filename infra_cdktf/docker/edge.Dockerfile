# The WebSocket edge (python -m edge_ws), also the janitor job's image
# (python -m edge_ws.janitor). Build from the repository root:
#   docker build -f infra_cdktf/docker/edge.Dockerfile -t IMAGE .
# scripts/build-images does this and pushes to Artifact Registry.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH=/app/.venv/bin:$PATH

RUN pip install --no-cache-dir uv==0.13.8

WORKDIR /app
# Dependencies first (locked, runtime only: no dev or infra group), so a code
# change does not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-default-groups --no-install-project --python /usr/local/bin/python3.11
COPY apex_core ./apex_core
COPY apex_cli ./apex_cli
COPY edge_ws ./edge_ws
COPY functions ./functions
COPY emulators ./emulators
RUN uv sync --frozen --no-default-groups --no-editable --compile-bytecode \
    --python /usr/local/bin/python3.11 \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin apex

USER 10001
ENV HOST=0.0.0.0 \
    PORT=8080
EXPOSE 8080
# No HEALTHCHECK: Cloud Run ignores it; the stack sets startup (/readyz) and
# liveness (/healthz) probes.
CMD ["python", "-m", "edge_ws"]
