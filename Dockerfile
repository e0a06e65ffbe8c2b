# Paperboy's production image: `docker compose up` builds it, runs `paperboy db upgrade` once in
# it (the `migrate` service), then `paperboy serve` (the Slack app, scheduler and summary worker).
# Any supported Python works: `docker build --build-arg PYTHON_VERSION=3.13 .`
ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PAPERBOY_DATA_DIR=/app/data \
    PORT=3000

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin paperboy
WORKDIR /app

# The pinned, hash-checked dependencies first: this layer is rebuilt only when the lock changes.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

# Then Paperboy itself, a regular (non-editable) install: the Alembic migrations ship inside the
# package (app/migrations), so no source tree is kept in the image.
COPY pyproject.toml README.md LICENSE /tmp/paperboy/
COPY app /tmp/paperboy/app
COPY migrations /tmp/paperboy/migrations
RUN pip install --no-deps /tmp/paperboy \
    && rm -rf /tmp/paperboy \
    && mkdir -p /app/data \
    && chown paperboy:paperboy /app/data

USER paperboy
EXPOSE 3000
CMD ["paperboy", "serve"]
