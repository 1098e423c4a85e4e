# A small image that migrates the database, then serves the API as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /build
COPY pyproject.toml README.md ./
COPY service ./service
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite+aiosqlite:////data/service.db
RUN useradd --system --create-home --uid 10001 app && mkdir /data && chown app /data
COPY --from=build /install /usr/local
WORKDIR /app
COPY alembic.ini ./
COPY migrations ./migrations
COPY service ./service
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
# Replicas may start together: on PostgreSQL the migration holds an advisory lock.
CMD ["sh", "-c", "python -m service migrate && exec python -m service serve --host 0.0.0.0 --port 8000 --workers ${WORKERS:-2}"]
