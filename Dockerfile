# The TMA backend in a container, installed with Poetry from the committed lock file.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    POETRY_VIRTUALENVS_IN_PROJECT=true \
    POETRY_NO_INTERACTION=1

WORKDIR /app
RUN pip install --no-cache-dir "poetry==2.5.1"

COPY pyproject.toml poetry.lock README.md ./
# The dev group's contract-coverage plugin is a path dependency of this repository.
COPY plugins/ plugins/
RUN poetry install --no-root

COPY . .
RUN poetry install

EXPOSE 8000
# Migrate, load the sample data into an empty database only in development, serve on all
# interfaces (docker/entrypoint.sh).
CMD ["sh", "docker/entrypoint.sh"]
