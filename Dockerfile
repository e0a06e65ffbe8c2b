# Paperboy's production image: `docker compose up` builds it, runs `paperboy db upgrade` once in
# it (the `migrate` service), then `paperboy serve` (the Slack app, scheduler and summary worker).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PAPERBOY_DATA_DIR=/app/data \
    PORT=3000

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin paperboy
WORKDIR /app

COPY pyproject.toml README.md alembic.ini manifest.yml ./
COPY app ./app
COPY migrations ./migrations
# Editable on purpose: app/db/engine.py finds the Alembic migrations next to the package
# (/app/migrations), which a plain install into site-packages would leave behind.
RUN pip install -e . \
    && mkdir -p /app/data \
    && chown paperboy:paperboy /app/data

USER paperboy
EXPOSE 3000
CMD ["paperboy", "serve"]
