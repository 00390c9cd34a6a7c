# The three functions (run_agent, ingest_usage, handle_dead_letter) in one image.
# Each Cloud Run service picks its target with FUNCTION_TARGET, which
# functions-framework reads like --target; FUNCTION_SOURCE names the module
# that defines all three. Build from the repository root:
#   docker build -f infra_cdktf/docker/functions.Dockerfile -t IMAGE .
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
ENV FUNCTION_SOURCE=/app/functions/main.py \
    PORT=8080
EXPOSE 8080
# FUNCTION_TARGET is set per Cloud Run service by the stack (infra_cdktf/functions.py).
CMD ["functions-framework"]
